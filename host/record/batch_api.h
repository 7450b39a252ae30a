/* The record and batch functions of the api table (see sluice.h). */
#ifndef SL_BATCH_API_H
#define SL_BATCH_API_H

#include <sluice/sluice.h>

size_t sl_batch_count(const sluice_batch *b);
sluice_record *sl_batch_at(const sluice_batch *b, size_t i);
size_t sl_batch_room(const sluice_batch *b);
void *sl_alloc(sluice_batch *b, size_t n);
/* Memory for text the host writes for a sink about a record already in b
 * (to_json): the arena, else the batch's spill arena (see batch.h), so a
 * good record never fails because its source filled the arena. */
void *sl_alloc_text(sluice_batch *b, size_t n);
const char *sl_strndup(sluice_batch *b, const char *s, size_t len);
sluice_record *sl_record_new(sluice_batch *b);
sluice_record *sl_record_copy(sluice_batch *b, const sluice_record *src);
int sl_set_key(sluice_batch *b, sluice_record *r, const void *p, size_t len);
int sl_set_value(sluice_batch *b, sluice_record *r, const void *p, size_t len);
int sl_header_add(sluice_batch *b, sluice_record *r, const char *key, const void *val,
                  size_t len);
sluice_field *sl_field_add(sluice_batch *b, sluice_record *r, const char *name,
                           sluice_field_type type);
/* sl_field_add for a name the caller knows is not there yet: no lookup
 * (the strict JSON parser has just looked, to refuse a duplicate key). */
sluice_field *sl_field_append(sluice_batch *b, sluice_record *r, const char *name,
                              sluice_field_type type);
int sl_field_set_string(sluice_batch *b, sluice_field *f, const char *s, size_t len);
int sl_field_remove(sluice_record *r, const char *name);
void sl_record_fail(sluice_batch *b, size_t i, const char *reason);

#endif
