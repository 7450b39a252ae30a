/* The sink's topic template: literal text with {topic} (the record's origin
 * topic) and {field:NAME} (a field's value as text). */
#ifndef KAFKA_KTOPIC_H
#define KAFKA_KTOPIC_H

#include <sluice/sluice_util.h>

#include <sluice/sluice.h>

typedef enum ktseg_kind { KT_LIT, KT_TOPIC, KT_FIELD } ktseg_kind;

typedef struct ktseg {
    ktseg_kind kind;
    char *text;              /* literal text, or the field name */
    size_t len;
} ktseg;

typedef struct ktopic {
    ktseg *segs;
    size_t n;
    const char *constant;    /* the whole template when it has no placeholder */
} ktopic;

int ktopic_parse(ktopic *t, const char *tmpl, char *err, size_t errlen);
void ktopic_free(ktopic *t);

/* Renders the topic of r into out (reset, NUL-terminated) and checks that it
 * is a valid Kafka topic name.  0, or -1 with err. */
int ktopic_render(const ktopic *t, const sluice_record *r, sluice_buf *out, char *err, size_t errlen);

/* Appends a field's value as text: strings and bytes as they are, numbers in
 * decimal, booleans as true/false, timestamps in µs.  -1 for NULL. */
int kfield_text(const sluice_field *f, sluice_buf *out);

#endif
