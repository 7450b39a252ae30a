/* User names and passwords against a private Mosquitto with a password
 * file (mosquitto_passwd) and an ACL: the right password works for source
 * and sink (also read from a secret file), a wrong or missing one is a
 * clear, permanent init error under MQTT 3.1.1 and 5, a publish the ACL
 * denies is a failed record under MQTT 5 (3.1.1 has no way to say so), and
 * a subscription the broker refuses fails init naming the filter. */
#include "check.h"
#include "mt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mt_env env;

#define URL "url: mqtt://127.0.0.1:%d\n"

static void test_auth(void)
{
    if (mt_sh("mosquitto_passwd -b -c '%s/passwd' sluice 's3cret pass' && "
              "mosquitto_passwd -b '%s/passwd' other otherpass", env.dir, env.dir) != 0)
        mt_die("mosquitto_passwd failed");
    char path[600], listener[2048];
    snprintf(path, sizeof path, "%s/acl", env.dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "user sluice\ntopic readwrite ok/#\n\nuser other\ntopic read other/#\n");
    fclose(f);
    snprintf(path, sizeof path, "%s/password.txt", env.dir);
    f = fopen(path, "w");
    fprintf(f, "s3cret pass\n");
    fclose(f);
    snprintf(listener, sizeof listener,
             "allow_anonymous false\npassword_file %s/passwd\nacl_file %s/acl", env.dir, env.dir);
    mt_broker b;
    mt_broker_start(&env, &b, "auth", 0, listener, NULL);

    /* The right password, given inline to the source and from a secret
     * file to the sink: the sink's messages reach the source. */
    const char *t = mt_uniq("ok/auth");
    for (int proto = 4; proto <= 5; proto++) {
        const char *pv = proto == 5 ? "5" : "3.1.1";
        mt_inst src, snk;
        CHECK_INT_EQ(mt_source(&env, &src, "auth-src", URL "username: sluice\npassword: \"s3cret "
                               "pass\"\nprotocol: \"%s\"\nclean_session: true\ntopics: [\"%s/#\"]",
                               b.port, pv, t), SLUICE_OK);
        CHECK_STR_CONTAINS(src.err, "");
        CHECK_INT_EQ(mt_sink(&env, &snk, "auth-snk", URL "username: sluice\npassword: { file: %s }"
                             "\nprotocol: \"%s\"\ntopic: \"%s/x\"", b.port, path, pv, t),
                     SLUICE_OK);
        sluice_batch *bt = sl_batch_new(10, 1 << 20);
        sluice_record *r = sl_api()->record_new(bt);
        sl_api()->set_value(bt, r, "hello", 5);
        CHECK_INT_EQ(mt_write(&snk, bt), SLUICE_OK);
        mt_got g = {0};
        mt_collect(&src, &g, 1, 5000);
        CHECK_INT_EQ(g.n, 1);
        if (g.n)
            CHECK(!strcmp(g.m[0].value, "hello"));
        mt_got_free(&g);
        sl_batch_free(bt);
        mt_close(&src);
        mt_close(&snk);
    }

    /* Wrong password, no credentials, unknown user: ERR (the pipeline is
     * refused, not retried for ever), saying the broker refused us. */
    const char *bad[] = {"username: sluice\npassword: wrong", "client_id: nobody",
                         "username: ghost\npassword: x"};
    for (int proto = 4; proto <= 5; proto++)
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            mt_inst s;
            CHECK_INT_EQ(mt_source(&env, &s, "auth-bad", URL "%s\nprotocol: \"%s\"", b.port,
                                   bad[i], proto == 5 ? "5" : "3.1.1"), SLUICE_ERR);
            char want[128];
            snprintf(want, sizeof want, "cannot connect to mqtt://127.0.0.1:%d: the broker "
                     "refused the connection: ", b.port);
            CHECK_STR_CONTAINS(s.err, want);
            CHECK(strstr(s.err, "ot authori") || strstr(s.err, "user name or password"));
            /* The password never shows. */
            CHECK(strstr(s.err, "wrong") == NULL);
            fprintf(stderr, "refused (MQTT %s): %s\n", proto == 5 ? "5" : "3.1.1", s.err);
            mt_close(&s);
            CHECK_INT_EQ(mt_sink(&env, &s, "auth-bad", URL "%s\nprotocol: \"%s\"\ntopic: x",
                                 b.port, bad[i], proto == 5 ? "5" : "3.1.1"), SLUICE_ERR);
            CHECK_STR_CONTAINS(s.err, want);
            mt_close(&s);
        }

    /* A publish the ACL denies: under MQTT 5 the PUBACK says so and the
     * record fails with the reason; the allowed one is published. */
    mt_inst snk;
    CHECK_INT_EQ(mt_sink(&env, &snk, "acl-pub", URL "username: sluice\npassword: \"s3cret pass\""
                         "\nprotocol: \"5\"\ntopic: \"{key}\"", b.port), SLUICE_OK);
    sluice_batch *bt = sl_batch_new(10, 1 << 20);
    const char *keys[] = {"ok/allowed", "denied/x"};
    for (int i = 0; i < 2; i++) {
        sluice_record *r = sl_api()->record_new(bt);
        sl_api()->set_key(bt, r, keys[i], strlen(keys[i]));
        sl_api()->set_value(bt, r, "v", 1);
    }
    CHECK_INT_EQ(mt_write(&snk, bt), SLUICE_PARTIAL);
    CHECK(sl_api()->batch_at(bt, 0)->failure_ == NULL);
    CHECK_STR_CONTAINS(sl_api()->batch_at(bt, 1)->failure_, "refused the message on \"denied/x\"");
    CHECK_STR_CONTAINS(sl_api()->batch_at(bt, 1)->failure_, "authori");
    CHECK_INT_EQ((long long)mt_metric(&snk, "sluice_mqtt_messages_published_total"), 1);
    sl_batch_free(bt);
    mt_close(&snk);
    mt_broker_stop(&b);
}

/* Mosquitto's acl_file never refuses a subscription; its dynamic-security
 * plugin does.  A filter it denies fails init, naming the filter, under
 * both protocols; allowed filters work. */
static void test_subscription_refused(void)
{
    const char *plugin = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so";
    char path[600], listener[2048];
    snprintf(path, sizeof path, "%s/dynsec.json", env.dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"defaultACLAccess\": {\"publishClientSend\": true, \"publishClientReceive\": "
               "true, \"subscribe\": false, \"unsubscribe\": true},\n"
               " \"clients\": [], \"groups\": [{\"groupname\": \"anon\", \"roles\": "
               "[{\"rolename\": \"sub-ok\"}]}],\n"
               " \"roles\": [{\"rolename\": \"sub-ok\", \"acls\": [{\"acltype\": "
               "\"subscribePattern\", \"topic\": \"ok/#\", \"priority\": 0, \"allow\": true}]}],\n"
               " \"anonymousGroup\": \"anon\"}\n");
    fclose(f);
    snprintf(listener, sizeof listener, "allow_anonymous true\nplugin %s\n"
             "plugin_opt_config_file %s", plugin, path);
    mt_broker b;
    mt_broker_start(&env, &b, "dynsec", 0, listener, NULL);
    for (int proto = 4; proto <= 5; proto++) {
        const char *pv = proto == 5 ? "5" : "3.1.1";
        mt_inst s;
        CHECK_INT_EQ(mt_source(&env, &s, "acl", URL "clean_session: true\nprotocol: \"%s\"\n"
                               "topics: [\"ok/#\", \"secret/#\"]", b.port, pv), SLUICE_ERR);
        char want[200];
        snprintf(want, sizeof want, "mqtt://127.0.0.1:%d refused the subscription to "
                 "\"secret/#\" (%s)", b.port, proto == 5 ? "Not authorized" : "SUBACK failure 0x80");
        CHECK_STR_CONTAINS(s.err, want);
        fprintf(stderr, "subscription refused (MQTT %s): %s\n", pv, s.err);
        mt_close(&s);
        CHECK_INT_EQ(mt_source(&env, &s, "acl", URL "clean_session: true\nprotocol: \"%s\"\n"
                               "topics: [\"ok/#\"]", b.port, pv), SLUICE_OK);
        mt_close(&s);
    }
    mt_broker_stop(&b);
}

int main(void)
{
    mt_setup(&env, "mqtt-auth");
    test_auth();
    test_subscription_refused();
    mt_teardown(&env);
    return CHECK_DONE();
}
