/* Fleet health: each controller's last reading and reading count, in an
 * open-addressing hash table of fixed 32-byte entries keyed by the 48-bit
 * MAC.  The sink thread updates it once per reading (one mutex, one probe,
 * no allocation unless the table doubles or a new topic shape appears);
 * the fleet thread (metrics, flush) and the HTTP thread (/devices) read it.
 * The last topic is kept as an index into an interned set of topic
 * templates (the topic without its 12 MAC digits), since a fleet's topics
 * differ only by MAC. */
#ifndef F2_FLEET_H
#define F2_FLEET_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define F2_FLEET_NO_TOPIC 0xFFFFu
#define F2_FLEET_UPPER 0x1u      /* the MAC's hex letters were upper case */
#define F2_FLEET_SILENT 0x2u     /* silent at the last scan */
#define F2_FLEET_TOPIC_MAX 256   /* longer topics are not kept */

typedef struct f2_fleet_entry {
    uint64_t key;            /* MAC + 1; 0: empty slot */
    int64_t last_seen_us;    /* wall clock when its last reading arrived */
    uint32_t readings;       /* since this process started */
    uint32_t flushed;        /* of those, already added to device_last_seen */
    uint32_t gen;            /* flush generation of its last change */
    uint16_t topic;          /* template index, or F2_FLEET_NO_TOPIC */
    uint8_t flags;
    uint8_t pad_;
} f2_fleet_entry;

typedef struct f2_fleet_tpl {
    char *s;                 /* topic without the MAC digits */
    uint16_t len, mac_off;   /* where the 12 digits go */
} f2_fleet_tpl;

typedef struct f2_fleet {
    pthread_mutex_t mu;
    f2_fleet_entry *slots;
    size_t cap, n;           /* cap: a power of two */
    uint32_t gen, flushed_gen;
    f2_fleet_tpl *tpl;
    size_t n_tpl, cap_tpl, tpl_bytes;
    uint16_t *tpl_index;     /* open addressing over tpl, 0xFFFF empty */
    size_t tpl_index_cap;
    int full;                /* growth failed: new devices are not tracked */
} f2_fleet;

/* A copy of one entry, for the flush and for /devices. */
typedef struct f2_fleet_row {
    uint64_t mac;
    int64_t last_seen_us;
    uint32_t readings, delta;    /* delta: not yet in device_last_seen */
    uint16_t topic;
    uint8_t flags;
} f2_fleet_row;

typedef struct f2_fleet_counts {
    size_t active, silent;
    size_t went_silent, came_back;   /* since the previous scan */
    uint64_t example[3];             /* MACs of some that went silent */
    size_t n_example;
    int full;                        /* a doubling failed */
} f2_fleet_counts;

int f2_fleet_init(f2_fleet *f);
void f2_fleet_free(f2_fleet *f);

/* One reading of `mac` at now_us; topic[mac_off..mac_off+12) are the MAC's
 * digits.  1 when the device is new, 0 when known, -1 when it could not be
 * added (out of memory: it is not tracked, the reading is unaffected). */
int f2_fleet_see(f2_fleet *f, uint64_t mac, int64_t now_us, const char *topic, size_t len,
                 size_t mac_off);

/* Bytes held: the table and the topic templates. */
size_t f2_fleet_bytes(f2_fleet *f);
size_t f2_fleet_devices(f2_fleet *f);

/* Counts active and silent devices (no reading for silent_after_us) and
 * notes the transitions since the previous scan. */
void f2_fleet_scan(f2_fleet *f, int64_t now_us, int64_t silent_after_us, f2_fleet_counts *c);

/* Copies the devices changed since the last successful flush into *rows
 * (grown with realloc; not the hot path) and starts a new generation.
 * Returns the count, or (size_t)-1 on exhaustion; *gen identifies the
 * snapshot for f2_fleet_flushed. */
size_t f2_fleet_changed(f2_fleet *f, f2_fleet_row **rows, size_t *cap, uint32_t *gen);

/* The rows of snapshot `gen` are in the table: their readings count as
 * flushed.  A snapshot that failed is simply not confirmed: the next one
 * includes its devices again. */
void f2_fleet_flushed(f2_fleet *f, const f2_fleet_row *rows, size_t n, uint32_t gen);

/* Copies every device into *rows (grown with realloc).  (size_t)-1 on
 * exhaustion. */
size_t f2_fleet_all(f2_fleet *f, f2_fleet_row **rows, size_t *cap);

/* The row's last topic, rebuilt, into buf (NUL-terminated); 0 when there
 * is none (then buf is ""). */
size_t f2_fleet_topic(f2_fleet *f, const f2_fleet_row *r, char *buf, size_t cap);

#endif
