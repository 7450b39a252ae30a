-- f2_parked: readings of controllers not registered yet, kept by f2_decode
-- with `unknown_device: park` until the controller's "Device" (with its
-- "Connector" and "Pin" rows, or device_parameters rows) exists, then
-- re-injected into the pipeline and deleted; or, after `park_for`, sent to
-- the dead-letter sink as expired.  In the device_params database: the
-- decoder parks on the connection it reads the parameters with.
--
-- f2_decode creates this table itself at start (the same statements) when
-- its user may; otherwise apply this file as the database's owner and
-- GRANT SELECT, INSERT, DELETE ON f2_parked, USAGE ON SEQUENCE
-- f2_parked_id_seq to the decoder's user.
CREATE TABLE IF NOT EXISTS f2_parked (
    id          bigserial PRIMARY KEY,
    owner       text        NOT NULL,  -- '<pipeline>/<instance>' that parked it and re-injects it
    mac         text        NOT NULL,  -- the controller's MAC, 12 lower-case hex digits
    parked_at   timestamptz NOT NULL DEFAULT now(),  -- first parked; park_for counts from here
    received_us bigint,                -- the input record's timestamp (µs since the epoch)
    tries       integer     NOT NULL DEFAULT 0,      -- re-injected and parked again
    topic       text        NOT NULL,  -- the F2 topic
    payload     text        NOT NULL,  -- the reading as received (its own timestamp inside)
    reason      text        NOT NULL   -- why it could not be decoded when it was parked
);
CREATE INDEX IF NOT EXISTS f2_parked_owner_mac ON f2_parked (owner, mac);
CREATE INDEX IF NOT EXISTS f2_parked_owner_parked_at ON f2_parked (owner, parked_at);
