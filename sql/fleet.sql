-- Fleet health: each F2 controller's last reading, in the timeseries
-- database.  f2_decode keeps it current when its `fleet_dsn` option names
-- this database: every `fleet_flush` (default 10 s) ONE upsert writes all
-- controllers that sent readings since the previous flush.
--   device_id   'f2-<mac in lower case>', as in iot_measurements
--   last_seen   when the last reading reached sluice (the wall clock of the
--               decoder, not the payload's timestamp)
--   readings    readings seen, summed over flushes and processes (a replay
--               after a crash may count some twice)
--   last_topic  the topic of the last reading
-- Idempotent: safe to apply again.
CREATE TABLE IF NOT EXISTS device_last_seen (
    device_id  text PRIMARY KEY,
    last_seen  timestamptz NOT NULL,
    readings   bigint NOT NULL DEFAULT 0,
    last_topic text
);

-- "Which controllers went quiet?" without scanning the fleet.
CREATE INDEX IF NOT EXISTS device_last_seen_last_seen_idx ON device_last_seen (last_seen);
