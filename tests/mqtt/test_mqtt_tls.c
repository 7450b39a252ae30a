/* mqtts:// against a private Mosquitto with three TLS listeners, using a
 * throwaway CA and certificates the test makes with the openssl CLI:
 * server authentication (source and sink round trip), mutual TLS with and
 * without a client certificate, a certificate for another host name (and
 * tls_insecure), a CA that did not sign the broker's certificate, and TLS
 * spoken to a plain listener.  Every failure is a permanent init error that
 * says what TLS said. */
#include "check.h"
#include "mt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mt_env env;
static char d[300];          /* certificate directory */

static void make_certs(void)
{
    if (mt_sh("command -v openssl >/dev/null") != 0)
        mt_die("the openssl command is missing (Debian package openssl): this test makes its "
               "certificates with it");
    snprintf(d, sizeof d, "%s/certs", env.dir);
    /* EC keys: quick to make. */
    const char *key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    int rc = mt_sh(
        "set -e; mkdir -p '%1$s'; cd '%1$s'; exec 2>openssl.log;"
        "openssl req -x509 %2$s -keyout ca.key -out ca.crt -days 2 -subj /CN=sluice-test-ca;"
        "openssl req -x509 %2$s -keyout other-ca.key -out other-ca.crt -days 2 "
        "  -subj /CN=some-other-ca;"
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' >server.ext;"
        "printf 'subjectAltName=DNS:wrong.invalid\\n' >wrong.ext;"
        "for n in server wrong client; do"
        "  openssl req %2$s -keyout $n.key -out $n.csr -subj /CN=$n;"
        "  ext=; [ -f $n.ext ] && ext=\"-extfile $n.ext\";"
        "  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt "
        "    -days 2 $ext;"
        "done; chmod 644 *.key",
        d, key);
    if (rc != 0) {
        mt_sh("cat '%s/openssl.log' >&2", d);
        mt_die("making the test certificates with openssl failed");
    }
}

static sluice_status open_pair(mt_inst *src, mt_inst *snk, int port, const char *tls_opts,
                               const char *topic)
{
    sluice_status st = mt_source(&env, src, "tls-src", "url: mqtts://127.0.0.1:%d\n%s\n"
                                 "clean_session: true\ntopics: [\"%s\"]", port, tls_opts, topic);
    if (st != SLUICE_OK)
        return st;
    return mt_sink(&env, snk, "tls-snk", "url: mqtts://127.0.0.1:%d\n%s\ntopic: \"%s\"", port,
                   tls_opts, topic);
}

/* Source and sink over TLS: the sink's message reaches the source. */
static void round_trip(int port, const char *tls_opts)
{
    const char *topic = mt_uniq("tls");
    mt_inst src, snk;
    CHECK_INT_EQ(open_pair(&src, &snk, port, tls_opts, topic), SLUICE_OK);
    if (src.st == SLUICE_OK && snk.st == SLUICE_OK) {
        sluice_batch *b = sl_batch_new(10, 1 << 20);
        sluice_record *r = sl_api()->record_new(b);
        sl_api()->set_value(b, r, "over tls", 8);
        CHECK_INT_EQ(mt_write(&snk, b), SLUICE_OK);
        mt_got g = {0};
        mt_collect(&src, &g, 1, 5000);
        CHECK_INT_EQ(g.n, 1);
        if (g.n)
            CHECK(!strcmp(g.m[0].value, "over tls"));
        mt_got_free(&g);
        sl_batch_free(b);
    } else {
        fprintf(stderr, "round trip on %d failed: %s%s\n", port, src.err, snk.err);
    }
    mt_close(&src);
    mt_close(&snk);
}

static void refused(int port, const char *tls_opts, const char *want)
{
    mt_inst s;
    CHECK_INT_EQ(mt_source(&env, &s, "tls-bad", "url: mqtts://127.0.0.1:%d\n%s\n"
                           "connect_timeout: 5s", port, tls_opts), SLUICE_ERR);
    char prefix[100];
    snprintf(prefix, sizeof prefix, "cannot connect to mqtts://127.0.0.1:%d: TLS handshake "
             "failed", port);
    CHECK_STR_CONTAINS(s.err, prefix);
    if (want)
        CHECK_STR_CONTAINS(s.err, want);
    fprintf(stderr, "refused as expected: %s\n", s.err);
    mt_close(&s);
    CHECK_INT_EQ(mt_sink(&env, &s, "tls-bad", "url: mqtts://127.0.0.1:%d\n%s\ntopic: x\n"
                         "connect_timeout: 5s", port, tls_opts), SLUICE_ERR);
    CHECK_STR_CONTAINS(s.err, prefix);
    mt_close(&s);
}

int main(void)
{
    mt_setup(&env, "mqtt-tls");
    make_certs();
    int p_mtls = mt_free_port(), p_wrong = mt_free_port();
    while (p_wrong == p_mtls)
        p_wrong = mt_free_port();
    char listener[1024], extra[2048];
    snprintf(listener, sizeof listener, "allow_anonymous true\ncafile %1$s/ca.crt\n"
             "certfile %1$s/server.crt\nkeyfile %1$s/server.key", d);
    snprintf(extra, sizeof extra,
             "listener %2$d 127.0.0.1\nallow_anonymous true\ncafile %1$s/ca.crt\n"
             "certfile %1$s/server.crt\nkeyfile %1$s/server.key\nrequire_certificate true\n"
             "listener %3$d 127.0.0.1\nallow_anonymous true\ncafile %1$s/ca.crt\n"
             "certfile %1$s/wrong.crt\nkeyfile %1$s/wrong.key", d, p_mtls, p_wrong);
    mt_broker b;
    mt_broker_start(&env, &b, "tls", 0, listener, extra);

    char ca[400], mtls[1200], other[400];
    snprintf(ca, sizeof ca, "tls_ca: %s/ca.crt", d);
    snprintf(mtls, sizeof mtls, "tls_ca: %1$s/ca.crt\ntls_cert: %1$s/client.crt\n"
             "tls_key: %1$s/client.key", d);
    snprintf(other, sizeof other, "tls_ca: %s/other-ca.crt", d);

    round_trip(b.port, ca);                                 /* server authentication */
    round_trip(p_mtls, mtls);                               /* mutual TLS */
    refused(p_mtls, ca, "certificate");                     /* mTLS without a client cert */
    refused(b.port, other, "certificate verify failed");    /* not our CA */
    refused(b.port, "", "certificate verify failed");       /* the system CAs do not know it */
    refused(p_wrong, ca, "host name verification failed");  /* names another host */
    char insecure[500];
    snprintf(insecure, sizeof insecure, "%s\ntls_insecure: true", ca);
    round_trip(p_wrong, insecure);                          /* ... accepted when insecure */

    /* TLS spoken to a plain listener (the suite's broker). */
    refused(env.port, ca, NULL);

    mt_broker_stop(&b);
    mt_teardown(&env);
    return CHECK_DONE();
}
