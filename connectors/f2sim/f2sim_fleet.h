/* The simulated fleet: which controllers exist (MACs from the seed), what
 * is wired to each, and what each component publishes.  The layout mirrors
 * sql/device_params_sample.sql, which must change with it: every reading
 * made here decodes with that sample data. */
#ifndef F2SIM_FLEET_H
#define F2SIM_FLEET_H

#include <stddef.h>
#include <stdint.h>

typedef enum f2sim_kind {
    F2SIM_SENSOR = 0,
    F2SIM_STRIKE,
    F2SIM_DOOR,
    F2SIM_READER,
    F2SIM_EXIT,
    F2SIM_MOTION,
    F2SIM_SIREN,
    F2SIM_KIND_COUNT
} f2sim_kind;

/* What an RS-485 sensor is (its template in the sample data). */
typedef enum f2sim_sensor {
    F2SIM_NONE = 0,
    F2SIM_ENV,       /* template 2: Int16/Uint16 big-endian */
    F2SIM_ENERGY,    /* template 3: little-endian */
    F2SIM_OUTDOOR,   /* template 4: negative values, Float32 */
    F2SIM_LAB,       /* template 5: every width */
    F2SIM_WATER      /* no Pin: device_parameters hex_to_float */
} f2sim_sensor;

typedef struct f2sim_component {
    f2sim_kind kind;
    const char *type;        /* cmnd, stat, tele */
    const char *mode;
    const char *connector;   /* as it appears in the topic */
    const char *name;        /* component[-id] */
    f2sim_sensor sensor;
} f2sim_component;

extern const f2sim_component f2sim_components[];
extern const size_t f2sim_n_components;

/* The kind names the `kinds` option takes; the component type. */
const char *f2sim_kind_name(f2sim_kind k);
int f2sim_kind_parse(const char *name);   /* -1 if unknown */

/* Controller i of a seed: 02:F2:<seed & 0xffff>:<i>, as 48 bits. */
uint64_t f2sim_mac(int64_t seed, uint32_t i);

/* SplitMix64: the simulator's randomness, a pure function of its input so
 * that reading k is the same however the readings are batched. */
static inline uint64_t f2sim_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

#endif
