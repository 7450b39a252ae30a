-- Sample device parameters for every controller the f2sim source simulates
-- with its default seed (1) and up to 1000 devices, so that
--   f2sim (seed 1, devices <= 1000) -> f2_decode
-- decodes every reading.  Apply after device_params.sql:
--   psql -v ON_ERROR_STOP=1 -d device_params -f sql/device_params_sample.sql
-- Re-runnable: rows are upserted by their fixed ids, so a second run also
-- restores values a test changed.  To cover another seed or more devices:
--   SELECT f2sim_sample(<seed>, <devices>);
--
-- The fleet, per controller i (0-based) of seed s; it mirrors
-- connectors/f2sim/f2sim_fleet.c, which must change with it:
--   MAC 02:F2:<s as 4 hex>:<i as 4 hex>, device_id 'f2-02f2ssssiiii'
--   J1 sensor-mode   RS-485 pins 1..4: Environment, Energy meter (little-endian),
--                    Outdoor (negative values, Float32), Lab probe (every width)
--   J2 access-control-mode: strike-1, strike-2, door-sensors, reader-1, exit-buttons
--   J3 alarm-mode    motion-sensor-1, motion-sensor-2, siren-1
--   J4 sensor-mode   pin 1: Environment; sensor-3 has no pin and is decoded by the
--                    device_parameters row (hex_to_float, a water meter)
-- Templates and data points (ids fixed):
--   2 Environment  Temperature Int16@0 /100 °C, Humidity Uint16@2 /100 %, CO2 Uint16@4 ppm
--                  (the F2-PROTOCOL example: 0A 1B 15 7C 01 90 -> 25.87 °C, 55.00 %, 400 ppm)
--   3 Energy meter Voltage Uint16LE@0 /10 V, Current Int16LE@2 /100 A,
--                  Energy Uint32LE@4 Wh, PowerFactor Uint8@8 /100 (no unit)
--   4 Outdoor      Temperature Int16@0 /10 °C, Pressure Float32@2 hPa, WindSpeed Uint8@6 /10 m/s
--   5 Lab probe    Tilt Int8@0 °, Battery Uint8@1 %, Depth Int32@2 /1000 m, Uptime Uint32@6 s,
--                  Position Int64@10 µm, Pulses Uint64@18, Conductivity Float64@26 µS/cm,
--                  pH Float32LE@34, Drift Int32LE@38 /100 mV

-- Re-runs would otherwise print a NOTICE per object that already exists.
SET client_min_messages = warning;

INSERT INTO "DeviceType" ("DeviceTypeId", "Name") VALUES
    (1, 'F2 Smart Controller'),
    (2, 'RS-485 Sensor')
ON CONFLICT ("DeviceTypeId") DO UPDATE SET "Name" = EXCLUDED."Name";

INSERT INTO "DeviceTemplate" ("DeviceTemplateId", "Name", "Model", "Description", "DeviceTypeId") VALUES
    (1, 'F2 Smart Controller', 'F2', 'Four-connector smart controller', 1),
    (2, 'Environment Sensor', 'ENV-300', 'Temperature, humidity and CO2 over RS-485', 2),
    (3, 'Energy Meter', 'EM-20LE', 'Single-phase meter; little-endian registers', 2),
    (4, 'Outdoor Sensor', 'OUT-100', 'Outdoor temperature, pressure and wind', 2),
    (5, 'Lab Probe', 'LAB-9', 'Multi-parameter probe using every register width', 2)
ON CONFLICT ("DeviceTemplateId") DO UPDATE SET
    "Name" = EXCLUDED."Name", "Model" = EXCLUDED."Model",
    "Description" = EXCLUDED."Description", "DeviceTypeId" = EXCLUDED."DeviceTypeId";

INSERT INTO "DataPointIcon" ("DataPointIconId", "IconName") VALUES
    (1, 'thermometer'), (2, 'droplet'), (3, 'cloud'), (4, 'bolt'), (5, 'gauge'), (6, 'wind')
ON CONFLICT ("DataPointIconId") DO UPDATE SET "IconName" = EXCLUDED."IconName";

INSERT INTO "DataPoint" ("DataPointId", "DeviceTemplateId", "Label", "DataPointIconId",
                         "DataFormat", "DataEncoding", "Offset", "Length", "Prepend", "Append",
                         "WholeNumber", "Decimals", "RealTimeChart", "HistoricalChart") VALUES
    (201, 2, 'Temperature',  1, 'number', 'Int16',     0, 2, NULL, ' °C',    2, 2, 'line', 'line'),
    (202, 2, 'Humidity',     2, 'number', 'Uint16',    2, 2, NULL, ' %',     2, 2, 'line', 'line'),
    (203, 2, 'CO2',          3, 'number', 'Uint16',    4, 2, NULL, ' ppm',   4, 0, 'line', 'line'),
    (301, 3, 'Voltage',      4, 'number', 'Uint16LE',  0, 2, NULL, ' V',     3, 1, 'line', 'line'),
    (302, 3, 'Current',      4, 'number', 'Int16LE',   2, 2, NULL, ' A',     2, 2, 'line', 'line'),
    (303, 3, 'Energy',       4, 'number', 'Uint32LE',  4, 4, NULL, ' Wh',    9, 0, 'line', 'bar'),
    (304, 3, 'PowerFactor',  5, 'number', 'Uint8',     8, 1, NULL, NULL,     1, 2, 'line', 'line'),
    (401, 4, 'Temperature',  1, 'number', 'Int16',     0, 2, NULL, ' °C',    3, 1, 'line', 'line'),
    (402, 4, 'Pressure',     5, 'number', 'Float32',   2, 4, NULL, ' hPa',   4, 0, 'line', 'line'),
    (403, 4, 'WindSpeed',    6, 'number', 'Uint8',     6, 1, NULL, ' m/s ',  2, 1, 'line', 'line'),
    (501, 5, 'Tilt',         5, 'number', 'Int8',      0, 1, NULL, '°',      2, 0, 'line', 'line'),
    (502, 5, 'Battery',      4, 'number', 'Uint8',     1, 1, NULL, ' %',     3, 0, 'line', 'line'),
    (503, 5, 'Depth',        2, 'number', 'Int32',     2, 4, NULL, ' m',     4, 3, 'line', 'line'),
    (504, 5, 'Uptime',       5, 'number', 'Uint32',    6, 4, NULL, ' s',    10, 0, 'line', 'line'),
    (505, 5, 'Position',     5, 'number', 'Int64',    10, 8, NULL, ' µm',   12, 0, 'line', 'line'),
    (506, 5, 'Pulses',       5, 'number', 'Uint64',   18, 8, NULL, '',      15, 0, 'line', 'bar'),
    (507, 5, 'Conductivity', 2, 'number', 'Float64',  26, 8, NULL, ' µS/cm', 6, 0, 'line', 'line'),
    (508, 5, 'pH',           2, 'number', 'Float32LE',34, 4, NULL, NULL,     2, 0, 'line', 'line'),
    (509, 5, 'Drift',        4, 'number', 'Int32LE',  38, 4, NULL, ' mV',    4, 2, 'line', 'line')
ON CONFLICT ("DataPointId") DO UPDATE SET
    "DeviceTemplateId" = EXCLUDED."DeviceTemplateId", "Label" = EXCLUDED."Label",
    "DataPointIconId" = EXCLUDED."DataPointIconId", "DataFormat" = EXCLUDED."DataFormat",
    "DataEncoding" = EXCLUDED."DataEncoding", "Offset" = EXCLUDED."Offset",
    "Length" = EXCLUDED."Length", "Prepend" = EXCLUDED."Prepend", "Append" = EXCLUDED."Append",
    "WholeNumber" = EXCLUDED."WholeNumber", "Decimals" = EXCLUDED."Decimals",
    "RealTimeChart" = EXCLUDED."RealTimeChart", "HistoricalChart" = EXCLUDED."HistoricalChart";

-- The MAC of simulated controller i of seed s, without separators, lower case
-- (f2sim_fleet.c: f2sim_mac()).
CREATE OR REPLACE FUNCTION f2sim_mac(seed integer, i integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT '02f2' || lpad(to_hex(seed & 65535), 4, '0') || lpad(to_hex(i), 4, '0')
$$;

-- Upserts the controllers 0..devices-1 of one seed with their connectors,
-- pins, sensor devices and device_parameters rows.  Ids are derived from
-- (seed slot, i) so that re-running never duplicates anything; seeds 0..9 and
-- devices up to 65536 fit the id ranges.
CREATE OR REPLACE FUNCTION f2sim_sample(seed integer, devices integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    base integer := (seed % 10) * 65536 * 8;   -- per-seed id range
BEGIN
    IF devices < 0 OR devices > 65536 THEN
        RAISE EXCEPTION 'f2sim_sample: devices must be 0..65536, not %', devices;
    END IF;

    -- Controllers: ids base+1+i; MacAddress stored with colons, upper case.
    INSERT INTO "Device" ("DeviceId", "DeviceName", "DeviceTemplateId", "SerialNumber",
                          "Uuid", "MacAddress", "IpAddress", "PcbVersion")
    SELECT base + 1 + i,
           format('F2 controller %s/%s', seed, i), 1,
           format('F2-%s-%s', seed, lpad(i::text, 5, '0')),
           md5(f2sim_mac(seed, i))::uuid::text,
           upper(regexp_replace(f2sim_mac(seed, i), '(..)(?!$)', '\1:', 'g')),
           format('10.%s.%s.%s', seed % 256, (i / 256) % 256, i % 256), 'rev-C'
    FROM generate_series(0, devices - 1) AS i
    ON CONFLICT ("DeviceId") DO UPDATE SET
        "DeviceName" = EXCLUDED."DeviceName", "DeviceTemplateId" = EXCLUDED."DeviceTemplateId",
        "SerialNumber" = EXCLUDED."SerialNumber", "Uuid" = EXCLUDED."Uuid",
        "MacAddress" = EXCLUDED."MacAddress", "IpAddress" = EXCLUDED."IpAddress",
        "PcbVersion" = EXCLUDED."PcbVersion";

    -- Sensor devices: slot k 0..4 -> templates 2, 3, 4, 5 (J1 pins 1..4), 2 (J4 pin 1).
    INSERT INTO "Device" ("DeviceId", "DeviceName", "DeviceTemplateId", "SerialNumber")
    SELECT 4 * 65536 * 8 * 10 + base + i * 8 + k,
           format('sensor %s of controller %s/%s', k, seed, i),
           (ARRAY[2, 3, 4, 5, 2])[k + 1],
           format('S-%s-%s-%s', seed, i, k)
    FROM generate_series(0, devices - 1) AS i, generate_series(0, 4) AS k
    ON CONFLICT ("DeviceId") DO UPDATE SET
        "DeviceName" = EXCLUDED."DeviceName", "DeviceTemplateId" = EXCLUDED."DeviceTemplateId",
        "SerialNumber" = EXCLUDED."SerialNumber";

    INSERT INTO "Connector" ("ConnectorId", "ControllerId", "ConnectorNumber", "ConnectorTypeId")
    SELECT base + i * 4 + n, base + 1 + i, n, (ARRAY[1, 2, 3, 1])[n]
    FROM generate_series(0, devices - 1) AS i, generate_series(1, 4) AS n
    ON CONFLICT ("ConnectorId") DO UPDATE SET
        "ControllerId" = EXCLUDED."ControllerId", "ConnectorNumber" = EXCLUDED."ConnectorNumber",
        "ConnectorTypeId" = EXCLUDED."ConnectorTypeId";

    INSERT INTO "Pin" ("PinId", "ConnectorId", "Position", "DeviceId")
    SELECT base + i * 8 + k + 1,
           base + i * 4 + (CASE WHEN k < 4 THEN 1 ELSE 4 END),
           (ARRAY[1, 2, 3, 4, 1])[k + 1],
           4 * 65536 * 8 * 10 + base + i * 8 + k
    FROM generate_series(0, devices - 1) AS i, generate_series(0, 4) AS k
    ON CONFLICT ("PinId") DO UPDATE SET
        "ConnectorId" = EXCLUDED."ConnectorId", "Position" = EXCLUDED."Position",
        "DeviceId" = EXCLUDED."DeviceId";

    INSERT INTO device_parameters (device_id, connector_mode, component_type, component_id,
                                   encoding_type, units, scaling_factor, description)
    SELECT 'f2-' || f2sim_mac(seed, i), r.mode, r.ctype, r.cid, r.enc, r.units, r.scale, r.descr
    FROM generate_series(0, devices - 1) AS i,
         (VALUES
            ('access-control-mode', 'strike', NULL, 'boolean_map', NULL, 1.0,
             'lock state: locked 1, unlocked 0'),
            ('access-control-mode', 'strike', NULL, 'number_map', 'voltage=V,current=A', 1.0,
             'coil voltage and current'),
            ('access-control-mode', 'strike', '2', 'boolean', NULL, 1.0,
             'strike 2 reports its state only'),
            ('access-control-mode', 'door-sensors', NULL, 'boolean_map', NULL, 1.0,
             'doors open 1 / closed 0, tamper'),
            ('access-control-mode', 'reader', NULL, 'raw_string', NULL, 1.0,
             'card id and read type as text'),
            ('access-control-mode', 'reader', NULL, 'number_map', 'signal_strength=%', 1.0,
             'signal strength'),
            ('access-control-mode', 'exit-buttons', NULL, 'boolean_map', NULL, 1.0,
             'button pressed'),
            ('access-control-mode', 'exit-buttons', NULL, 'number_map', NULL, 1.0,
             'which button'),
            ('alarm-mode', 'motion-sensor', NULL, 'boolean_map', NULL, 1.0, 'motion detected'),
            ('alarm-mode', 'motion-sensor', NULL, 'number_map', NULL, 1.0, 'sensitivity'),
            ('alarm-mode', 'motion-sensor', NULL, 'raw_string', NULL, 1.0, 'zone'),
            ('alarm-mode', 'siren', NULL, 'boolean_map', NULL, 1.0, 'siren active'),
            ('alarm-mode', 'siren', NULL, 'number_map', 'volume=%', 1.0, 'volume'),
            ('alarm-mode', 'siren', NULL, 'raw_string', NULL, 1.0, 'pattern'),
            ('sensor-mode', 'sensor', '3', 'hex_to_float', 'L', 0.1,
             'water meter pulse counter on J4 (J1 sensor-3 is a Pin: the device model wins)')
         ) AS r(mode, ctype, cid, enc, units, scale, descr)
    ON CONFLICT (lower(device_id), connector_mode, component_type, (coalesce(component_id, '')),
                 encoding_type)
    DO UPDATE SET units = EXCLUDED.units, scaling_factor = EXCLUDED.scaling_factor,
                  description = EXCLUDED.description, updated_at = now()
    WHERE (device_parameters.units, device_parameters.scaling_factor,
           device_parameters.description)
          IS DISTINCT FROM (EXCLUDED.units, EXCLUDED.scaling_factor, EXCLUDED.description);

    -- Explicit ids leave the identity sequences behind; move them past.
    PERFORM setval(pg_get_serial_sequence('"Device"', 'DeviceId'),
                   (SELECT max("DeviceId") FROM "Device"));
    PERFORM setval(pg_get_serial_sequence('"Connector"', 'ConnectorId'),
                   (SELECT max("ConnectorId") FROM "Connector"));
    PERFORM setval(pg_get_serial_sequence('"Pin"', 'PinId'), (SELECT max("PinId") FROM "Pin"));
END
$$;

-- Quiet under psql: PERFORM inside DO prints nothing.
DO $$
BEGIN
    PERFORM setval(pg_get_serial_sequence('"DeviceType"', 'DeviceTypeId'),
                   (SELECT max("DeviceTypeId") FROM "DeviceType"));
    PERFORM setval(pg_get_serial_sequence('"DeviceTemplate"', 'DeviceTemplateId'),
                   (SELECT max("DeviceTemplateId") FROM "DeviceTemplate"));
    PERFORM setval(pg_get_serial_sequence('"DataPointIcon"', 'DataPointIconId'),
                   (SELECT max("DataPointIconId") FROM "DataPointIcon"));
    PERFORM setval(pg_get_serial_sequence('"DataPoint"', 'DataPointId'),
                   (SELECT max("DataPointId") FROM "DataPoint"));
    PERFORM f2sim_sample(1, 1000);
END
$$;
