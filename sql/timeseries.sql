-- timeseries: the measurements f2_decode produces (one row per data point of
-- a reading), as F2-PROTOCOL.md's "Measurements" section defines them.
-- The seed's columns plus `datapoint` (so that the several measurements of
-- one reading do not collide on the primary key) and `value_text` (text a
-- double cannot hold: raw_string values and two-state words).  Text columns
-- are `text`: TimescaleDB advises against varchar in hypertables, and a
-- length limit would reject readings real devices send.
--
-- Works on plain PostgreSQL.  Where TimescaleDB is installed *and* preloaded
-- (shared_preload_libraries), it also makes iot_measurements a hypertable
-- with compression, retention and hourly and daily continuous aggregates;
-- where it is installed but not preloaded it says so and stays plain.
-- Re-runnable: a second run changes the policies to the values given.
--
--   psql -v ON_ERROR_STOP=1 -d timeseries -f sql/timeseries.sql
--   psql ... -v rows_per_second=5000 -v memory_mb=16384 -f sql/timeseries.sql
--
-- Parameters (psql -v NAME=VALUE), with their defaults:
--   rows_per_second      1600   measurements per second you expect
--                                (scripts/run.sh's simulator: ~1 570)
--   memory_mb            4096   the database server's memory
--   index_bytes_per_row   130   index bytes per row: measured, the primary
--                                key ~80, the device index ~40-50
--   chunk_interval               overrides the rule below, e.g. '1 day'
--   compress_after     2 days   compress chunks older than this; later
--                                readings still land (TimescaleDB writes
--                                into compressed chunks), only slower
--   retain           365 days   drop chunks older than this
--
-- Chunk interval rule (TimescaleDB's advice): the chunk being written, with
-- its indexes, should fit in about 25% of memory.  Its indexes grow by
-- rows_per_second * index_bytes_per_row per second, so
--   chunk_interval = 25% * memory / (rows_per_second * index_bytes_per_row)
-- rounded down to whole hours, at least 1 hour.  The defaults give 1 hour
-- (5.8 M rows a chunk); 16 GB at the same rate gives 5 hours.

\if :{?rows_per_second}
\else
\set rows_per_second 1600
\endif
\if :{?memory_mb}
\else
\set memory_mb 4096
\endif
\if :{?index_bytes_per_row}
\else
\set index_bytes_per_row 130
\endif
\if :{?chunk_interval}
\else
SELECT greatest(1, floor(:memory_mb::numeric * 1048576 * 0.25
                         / (:rows_per_second::numeric * :index_bytes_per_row) / 3600))
       || ' hours' AS chunk_interval \gset
\endif
\if :{?compress_after}
\else
\set compress_after '2 days'
\endif
\if :{?retain}
\else
\set retain '365 days'
\endif
-- For the DO block below, which cannot see psql variables.
SELECT set_config('sluice.chunk_interval', :'chunk_interval', false),
       set_config('sluice.compress_after', :'compress_after', false),
       set_config('sluice.retain', :'retain', false) \gset

SET client_min_messages = warning;

CREATE TABLE IF NOT EXISTS iot_measurements (
    "timestamp"     timestamptz      NOT NULL,
    device_id       text             NOT NULL,   -- 'f2-<mac lower case>'
    connector_mode  text             NOT NULL,
    component_type  text             NOT NULL,
    pin_position    text             NOT NULL DEFAULT '',  -- component ID, '' if none
    datapoint       text             NOT NULL,   -- data point label or payload field
    value           double precision,
    value_text      text,
    unit            text,
    topic           text,
    PRIMARY KEY ("timestamp", device_id, connector_mode, component_type, pin_position,
                 datapoint)
);

-- "Latest readings of one device", the dashboards' most common question.
-- Time-range queries use the primary key, which starts with "timestamp": no
-- separate time index (TimescaleDB's default one is turned off below).
CREATE INDEX IF NOT EXISTS iot_measurements_device_time_idx
    ON iot_measurements (device_id, "timestamp" DESC);

RESET client_min_messages;

DO $$
DECLARE
    chunk_interval interval := current_setting('sluice.chunk_interval')::interval;
    compress_after interval := current_setting('sluice.compress_after')::interval;
    retain         interval := current_setting('sluice.retain')::interval;
    tbl            regclass := 'iot_measurements'::regclass;
    schema_name    name;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        RAISE NOTICE 'timescaledb is not available: iot_measurements is a plain PostgreSQL table';
        RETURN;
    END IF;
    -- Without the preload, CREATE EXTENSION (or any use of an existing
    -- one) ends the session with FATAL, which no EXCEPTION clause catches.
    -- This setting of TimescaleDB's loader exists only when it is preloaded.
    IF current_setting('timescaledb.bgw_launcher_poll_time', true) IS NULL THEN
        RAISE NOTICE 'timescaledb is installed but not preloaded (add it to '
                     'shared_preload_libraries and restart PostgreSQL, then run this again): '
                     'iot_measurements is a plain PostgreSQL table';
        RETURN;
    END IF;
    -- In public, not in the first schema of the search path: a DROP SCHEMA
    -- of that schema would take the extension with it.
    CREATE EXTENSION IF NOT EXISTS timescaledb WITH SCHEMA public;
    -- TimescaleDB's chatter on a re-run ("already a hypertable", "policy
    -- not found, skipping", segmentby advice we chose not to follow) hides
    -- what matters; the outcome is reported with RAISE INFO at the end.
    PERFORM set_config('client_min_messages', 'error', true);
    SELECT relnamespace::regnamespace::name INTO schema_name FROM pg_class WHERE oid = tbl;

    -- Through EXECUTE: these functions only exist once the extension does.
    EXECUTE $q$SELECT public.create_hypertable($1, 'timestamp', chunk_time_interval => $2,
                       if_not_exists => TRUE, migrate_data => TRUE,
                       create_default_indexes => FALSE)$q$ USING tbl, chunk_interval;
    EXECUTE $q$SELECT public.set_chunk_time_interval($1, $2)$q$ USING tbl, chunk_interval;

    -- One segment per device and data point, newest first: what queries of
    -- one series read, and what compresses best.
    IF NOT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                   WHERE hypertable_schema = schema_name
                     AND hypertable_name = 'iot_measurements' AND compression_enabled) THEN
        EXECUTE $q$ALTER TABLE iot_measurements SET (timescaledb.compress,
                    timescaledb.compress_segmentby = 'device_id, datapoint',
                    timescaledb.compress_orderby = '"timestamp" DESC')$q$;
    END IF;
    -- remove + add: TimescaleDB has no "alter policy", and a re-run applies
    -- the values given now.
    EXECUTE $q$SELECT public.remove_compression_policy($1, if_exists => TRUE)$q$ USING tbl;
    EXECUTE $q$SELECT public.add_compression_policy($1, $2)$q$ USING tbl, compress_after;
    EXECUTE $q$SELECT public.remove_retention_policy($1, if_exists => TRUE)$q$ USING tbl;
    EXECUTE $q$SELECT public.add_retention_policy($1, $2)$q$ USING tbl, retain;

    -- Continuous aggregates with real-time aggregation (materialized_only =
    -- false): the newest buckets, not yet materialised, are computed from
    -- the raw rows at query time.  The refresh windows reach back far
    -- enough that readings up to 7 days late (hourly) and 30 days late
    -- (daily) are materialised; a refresh only recomputes the buckets that
    -- late rows changed.  WITH NO DATA: allowed inside this DO block's
    -- transaction; the policies fill them.
    IF to_regclass('iot_measurements_hourly') IS NULL THEN
        EXECUTE $q$
            CREATE MATERIALIZED VIEW iot_measurements_hourly
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT public.time_bucket(INTERVAL '1 hour', "timestamp") AS bucket,
                   device_id, connector_mode, component_type, pin_position, datapoint,
                   avg(value) AS avg_value, min(value) AS min_value,
                   max(value) AS max_value, count(*) AS readings
            FROM iot_measurements
            GROUP BY bucket, device_id, connector_mode, component_type, pin_position,
                     datapoint
            WITH NO DATA$q$;
    END IF;
    IF to_regclass('iot_measurements_daily') IS NULL THEN
        EXECUTE $q$
            CREATE MATERIALIZED VIEW iot_measurements_daily
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT public.time_bucket(INTERVAL '1 day', "timestamp") AS bucket,
                   device_id, connector_mode, component_type, pin_position, datapoint,
                   avg(value) AS avg_value, min(value) AS min_value,
                   max(value) AS max_value, count(*) AS readings
            FROM iot_measurements
            GROUP BY bucket, device_id, connector_mode, component_type, pin_position,
                     datapoint
            WITH NO DATA$q$;
    END IF;
    -- An existing installation's views get real-time aggregation too.
    EXECUTE 'ALTER MATERIALIZED VIEW iot_measurements_hourly SET (timescaledb.materialized_only = false)';
    EXECUTE 'ALTER MATERIALIZED VIEW iot_measurements_daily SET (timescaledb.materialized_only = false)';
    EXECUTE $q$SELECT public.remove_continuous_aggregate_policy($1, if_not_exists => TRUE)$q$
        USING 'iot_measurements_hourly'::regclass;
    EXECUTE $q$SELECT public.add_continuous_aggregate_policy($1,
                    start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 hour',
                    schedule_interval => INTERVAL '30 minutes')$q$
        USING 'iot_measurements_hourly'::regclass;
    EXECUTE $q$SELECT public.remove_continuous_aggregate_policy($1, if_not_exists => TRUE)$q$
        USING 'iot_measurements_daily'::regclass;
    EXECUTE $q$SELECT public.add_continuous_aggregate_policy($1,
                    start_offset => INTERVAL '30 days', end_offset => INTERVAL '1 day',
                    schedule_interval => INTERVAL '1 hour')$q$
        USING 'iot_measurements_daily'::regclass;
    RAISE INFO 'timescaledb: iot_measurements is a hypertable (chunk_interval %, compressed '
                 'after %, kept for %) with the continuous aggregates iot_measurements_hourly '
                 'and iot_measurements_daily', chunk_interval, compress_after, retain;
END
$$;
