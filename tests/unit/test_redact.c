/* Redaction: URL userinfo and secret NAME=VALUE pairs in running text,
 * secret-named map keys, and the scrubbing of remembered secret values. */
#include "check.h"
#include "redact.h"

#include <string.h>

static const char *red(const char *in)
{
    static char out[512];
    sl_redact_text(in, out, sizeof out);
    return out;
}

#define CHECK_RED(in, want)                                                           \
    do {                                                                              \
        const char *got_ = red(in);                                                   \
        check_count++;                                                                \
        if (strcmp(got_, want) != 0) {                                                \
            check_failures++;                                                         \
            fprintf(stderr, "%s:%d: redact(\"%s\") = \"%s\", want \"%s\"\n", __FILE__, \
                    __LINE__, in, got_, want);                                        \
        }                                                                             \
    } while (0)

int main(void)
{
    /* URL userinfo, whole, whatever the scheme. */
    CHECK_RED("mqtt://user:pw@host:1883", "mqtt://***@host:1883");
    CHECK_RED("url \"mqtts://a:b@c@[::1]:8883/x\" bad", "url \"mqtts://***@[::1]:8883/x\" bad");
    CHECK_RED("postgresql://u:p%20q@db/x?sslmode=require", "postgresql://***@db/x?sslmode=require");
    CHECK_RED("https://token@github.com/x", "https://***@github.com/x");
    CHECK_RED("http://host/path@notuserinfo", "http://host/path@notuserinfo");
    CHECK_RED("mqtt://host:1883", "mqtt://host:1883");
    /* NAME=VALUE with a secret name, libpq quoting and URL queries. */
    CHECK_RED("host=h password=abc user=u", "host=h password=*** user=u");
    CHECK_RED("host=h password='a b\\' c' user=u", "host=h password=*** user=u");
    CHECK_RED("host=h PASSWORD = plain", "host=h PASSWORD = ***");
    CHECK_RED("sslpassword=x", "sslpassword=***");
    CHECK_RED("/x?user=u&access_token=abc&y=1", "/x?user=u&access_token=***&y=1");
    CHECK_RED("client_secret=s3 credential=c4", "client_secret=*** credential=***");
    /* "key" is left alone in running text: it is mostly a record key. */
    CHECK_RED("key=device-7 value=1", "key=device-7 value=1");
    CHECK_RED("", "");
    /* Truncation keeps the output terminated. */
    char small[8];
    sl_redact_text("mqtt://u:p@h", small, sizeof small);
    CHECK(strlen(small) < sizeof small);

    CHECK(sl_secret_name("sasl.password", 13));
    CHECK(sl_secret_name("ssl.key.password", 16));
    CHECK(sl_secret_name("ssl.key.pem", 11));
    CHECK(sl_secret_name("X-Api-Token", 11));
    CHECK(sl_secret_name("Credentials", 11));
    CHECK(sl_secret_name("client.secret", 13));
    CHECK(!sl_secret_name("client.id", 9));
    CHECK(!sl_secret_name("bootstrap.servers", 17));

    /* Remembered values are scrubbed wherever they appear. */
    sl_secret_register("hunter2-long");
    sl_secret_register("abc"); /* too short to scrub safely: ignored */
    char buf[256] = "login with hunter2-long failed (hunter2-long); abc stays";
    sl_secret_scrub(buf, sizeof buf);
    CHECK(strcmp(buf, "login with *** failed (***); abc stays") == 0);
    fprintf(stderr, "scrubbed: %s\n", buf);
    char buf2[64] = "dsn host=h password=hunter2-long";
    sl_secret_scrub(buf2, sizeof buf2);
    CHECK(strcmp(buf2, "dsn host=h password=***") == 0);
    /* The parts of a DSN or URL secret a message may quote alone. */
    sl_secret_register("host=db port=5432 password=first second-part user=u");
    sl_secret_register("host=db password='quoted pass' user=u");
    sl_secret_register("mqtt://someone:url-pass-9@broker:1883");
    char buf3[256] = "missing \"=\" after \"second-part\"; first; quoted pass; url-pass-9; "
                     "host=db";
    sl_secret_scrub(buf3, sizeof buf3);
    fprintf(stderr, "scrubbed: %s\n", buf3);
    CHECK(strstr(buf3, "second-part") == NULL);
    CHECK(strstr(buf3, "first") == NULL);
    CHECK(strstr(buf3, "quoted pass") == NULL);
    CHECK(strstr(buf3, "url-pass-9") == NULL);
    CHECK(strstr(buf3, "host=db") != NULL);
    return CHECK_DONE();
}
