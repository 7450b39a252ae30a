#include "f2sim_fleet.h"

#include <string.h>

/* Per controller; see the header of sql/device_params_sample.sql.  Sensor
 * topics write the connector as J<n>, the others as a bare digit, so both
 * spellings flow through a pipeline. */
const f2sim_component f2sim_components[] = {
    {F2SIM_SENSOR, "cmnd", "sensor-mode", "J1", "sensor-1", F2SIM_ENV},
    {F2SIM_SENSOR, "cmnd", "sensor-mode", "J1", "sensor-2", F2SIM_ENERGY},
    {F2SIM_SENSOR, "cmnd", "sensor-mode", "J1", "sensor-3", F2SIM_OUTDOOR},
    {F2SIM_SENSOR, "cmnd", "sensor-mode", "J1", "sensor-4", F2SIM_LAB},
    {F2SIM_STRIKE, "stat", "access-control-mode", "2", "strike-1", F2SIM_NONE},
    {F2SIM_STRIKE, "stat", "access-control-mode", "2", "strike-2", F2SIM_NONE},
    {F2SIM_DOOR, "stat", "access-control-mode", "2", "door-sensors", F2SIM_NONE},
    {F2SIM_READER, "tele", "access-control-mode", "2", "reader-1", F2SIM_NONE},
    {F2SIM_EXIT, "stat", "access-control-mode", "2", "exit-buttons", F2SIM_NONE},
    {F2SIM_MOTION, "stat", "alarm-mode", "3", "motion-sensor-1", F2SIM_NONE},
    {F2SIM_MOTION, "stat", "alarm-mode", "3", "motion-sensor-2", F2SIM_NONE},
    {F2SIM_SIREN, "stat", "alarm-mode", "3", "siren-1", F2SIM_NONE},
    {F2SIM_SENSOR, "cmnd", "sensor-mode", "J4", "sensor-1", F2SIM_ENV},
    {F2SIM_SENSOR, "cmnd", "sensor-mode", "J4", "sensor-3", F2SIM_WATER},
};
const size_t f2sim_n_components = sizeof f2sim_components / sizeof f2sim_components[0];

static const char *const kind_names[F2SIM_KIND_COUNT] = {
    "sensor", "strike", "door-sensors", "reader", "exit-buttons", "motion-sensor", "siren"};

const char *f2sim_kind_name(f2sim_kind k) { return kind_names[k]; }

int f2sim_kind_parse(const char *name)
{
    for (int i = 0; i < F2SIM_KIND_COUNT; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return i;
    return -1;
}

uint64_t f2sim_mac(int64_t seed, uint32_t i)
{
    return 0x02F2ull << 32 | ((uint64_t)seed & 0xFFFF) << 16 | (i & 0xFFFF);
}
