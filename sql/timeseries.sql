-- timeseries: the measurements f2_decode produces (one row per data point of
-- a reading), as F2-PROTOCOL.md's "Measurements" section defines them.
-- The seed's columns plus `datapoint` (so that the several measurements of
-- one reading do not collide on the primary key) and `value_text` (text a
-- double cannot hold: raw_string values and two-state words).  Text columns
-- are `text`: TimescaleDB advises against varchar in hypertables, and a
-- length limit would reject readings real devices send.
--
-- Works on plain PostgreSQL; where the timescaledb extension is available it
-- also makes the table a hypertable with an hourly continuous aggregate.
-- Re-runnable.  Apply with
--   psql -v ON_ERROR_STOP=1 -d timeseries -f sql/timeseries.sql

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
CREATE INDEX IF NOT EXISTS iot_measurements_device_time_idx
    ON iot_measurements (device_id, "timestamp" DESC);

RESET client_min_messages;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        RAISE NOTICE 'timescaledb is not available: iot_measurements is a plain PostgreSQL table';
        RETURN;
    END IF;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
    EXCEPTION WHEN others THEN
        -- Installed but not loadable (usually: not in shared_preload_libraries).
        RAISE NOTICE 'timescaledb is installed but cannot be loaded (%): iot_measurements '
                     'is a plain PostgreSQL table', SQLERRM;
        RETURN;
    END;

    -- Through EXECUTE: these functions only exist once the extension does.
    EXECUTE $q$SELECT create_hypertable('iot_measurements', 'timestamp',
                                        if_not_exists => TRUE, migrate_data => TRUE)$q$;

    IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'iot_measurements_hourly') THEN
        -- WITH NO DATA: allowed inside this DO block's transaction; the
        -- policy below fills it.
        EXECUTE $q$
            CREATE MATERIALIZED VIEW iot_measurements_hourly
            WITH (timescaledb.continuous) AS
            SELECT time_bucket(INTERVAL '1 hour', "timestamp") AS bucket,
                   device_id, connector_mode, component_type, pin_position, datapoint,
                   avg(value) AS avg_value, min(value) AS min_value,
                   max(value) AS max_value, count(*) AS readings
            FROM iot_measurements
            GROUP BY bucket, device_id, connector_mode, component_type, pin_position,
                     datapoint
            WITH NO DATA$q$;
    END IF;
    EXECUTE $q$SELECT add_continuous_aggregate_policy('iot_measurements_hourly',
                    start_offset => INTERVAL '3 hours', end_offset => INTERVAL '1 hour',
                    schedule_interval => INTERVAL '30 minutes', if_not_exists => TRUE)$q$;
    RAISE NOTICE 'timescaledb: iot_measurements is a hypertable with the hourly '
                 'continuous aggregate iot_measurements_hourly';
END
$$;
