/* JSON conversion of records, behind sluice_api.to_json/from_json: a writer
 * (json_write.c) and a strict parser (json_parse.c) of our own, both working
 * in the batch arena. */
#ifndef SL_JSON_CONV_H
#define SL_JSON_CONV_H

#include <sluice/sluice.h>

const char *sl_to_json(sluice_batch *b, const sluice_record *r, size_t *len, char *err,
                       size_t errlen);
int sl_from_json(sluice_batch *b, sluice_record *r, const char *json, size_t len, char *err,
                 size_t errlen);
/* With SLUICE_JSON_* flags; -2 when the batch ran out of memory. */
int sl_from_json_ex(sluice_batch *b, sluice_record *r, const char *json, size_t len,
                    unsigned flags, char *err, size_t errlen);
/* Whether s is one complete JSON object or array (whitespace around it
 * allowed) that the envelope embeds as sent: valid by from_json's rules,
 * at most 64 levels deep.  The one validator for it; allocates nothing
 * (a real number longer than 63 characters aside). */
int sl_json_container(const char *s, size_t n);

#endif
