-- Metrics at scale: raw EncryptionMetric rows partitioned by UTC day (retention drops
-- whole partitions), rollups per closed hour and day (the summary reads them instead of
-- the raw rows), and a sub-millisecond duration column.
-- The migration runner splits scripts at every semicolon, quotes or not: statement
-- separators inside function bodies are written as the escape \073 in E'' strings.

-- Buckets to (re)build: one row per (grain, bucket start) whose raw rows changed.
CREATE TABLE "MetricRollupDirty" (
    "grainSeconds" INTEGER NOT NULL,
    "bucketStart" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "MetricRollupDirty_pkey" PRIMARY KEY ("grainSeconds","bucketStart")
);

CREATE TABLE "MetricRollup" (
    "id" BIGSERIAL NOT NULL,
    "grainSeconds" INTEGER NOT NULL,
    "bucketStart" TIMESTAMPTZ(3) NOT NULL,
    "operation" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "errorReason" TEXT,
    "count" BIGINT NOT NULL,
    "sumMicros" BIGINT NOT NULL,
    "minMicros" BIGINT NOT NULL,
    "maxMicros" BIGINT NOT NULL,
    "histogramBins" INTEGER[],
    "histogramCounts" BIGINT[],
    CONSTRAINT "MetricRollup_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "MetricRollup_grainSeconds_bucketStart_idx" ON "MetricRollup"("grainSeconds", "bucketStart");

CREATE TABLE "MetricDeviceRollup" (
    "grainSeconds" INTEGER NOT NULL,
    "bucketStart" TIMESTAMPTZ(3) NOT NULL,
    "deviceId" TEXT NOT NULL,
    "operations" BIGINT NOT NULL,
    "failures" BIGINT NOT NULL,
    "rateLimited" BIGINT NOT NULL,
    "lastRateLimitedAt" TIMESTAMPTZ(3),
    CONSTRAINT "MetricDeviceRollup_pkey" PRIMARY KEY ("grainSeconds","bucketStart","deviceId")
);

CREATE TABLE "MetricDeviceSketch" (
    "grainSeconds" INTEGER NOT NULL,
    "bucketStart" TIMESTAMPTZ(3) NOT NULL,
    "registers" BYTEA NOT NULL,
    "floor" BIGINT NOT NULL,
    CONSTRAINT "MetricDeviceSketch_pkey" PRIMARY KEY ("grainSeconds","bucketStart")
);

CREATE TABLE "MetricKeyRollup" (
    "grainSeconds" INTEGER NOT NULL,
    "bucketStart" TIMESTAMPTZ(3) NOT NULL,
    "keyId" TEXT NOT NULL,
    "operations" BIGINT NOT NULL,
    "failures" BIGINT NOT NULL,
    CONSTRAINT "MetricKeyRollup_pkey" PRIMARY KEY ("grainSeconds","bucketStart","keyId")
);
CREATE INDEX "MetricKeyRollup_failing_idx" ON "MetricKeyRollup"("grainSeconds", "bucketStart", "keyId", "failures") WHERE (failures > 0);

-- The duration histogram's bin of a duration in microseconds: 0 below 1 us, else bin i
-- holds [2^((i-1)/8), 2^(i/8)) us (8 bins per doubling). One definition, used by the
-- rollup step and by the summary's reads of raw rows alike.
CREATE FUNCTION "kms_metric_duration_bin"(micros BIGINT) RETURNS INTEGER
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS 'SELECT CASE WHEN micros < 1 THEN 0 ELSE floor(8 * ln(micros::float8) / ln(2::float8))::int + 1 END';

-- Statement trigger (transition table): marks the 10 minutes, the hour and the day of every inserted row
-- dirty. DO UPDATE ... WHERE false writes nothing but locks an existing mark until this
-- insert commits, so the rollup step (which deletes the mark first) waits for it and
-- then sees its rows: a mark is never cleared by a rollup that missed the rows behind it.
CREATE FUNCTION "kms_metric_rows_inserted"() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  INSERT INTO "MetricRollupDirty" ("grainSeconds", "bucketStart")
  SELECT DISTINCT grain.seconds, date_bin(make_interval(secs => grain.seconds), rows."timestamp", TIMESTAMPTZ ''1970-01-01 00:00:00+00'')
    FROM new_rows rows CROSS JOIN (VALUES (600), (3600), (86400)) AS grain(seconds)
   ORDER BY 1, 2
  ON CONFLICT ("grainSeconds", "bucketStart") DO UPDATE SET "grainSeconds" = EXCLUDED."grainSeconds" WHERE false\073
  RETURN NULL\073
END';

-- The day partition of `day` (UTC), created if missing: rows of that day waiting in the
-- default partition move into it, and it gets the insert trigger of its own (a COPY or a
-- restore straight into a partition fires the partition's triggers, not the root's).
-- Callers on several processes at once are serialized by a transaction advisory lock.
-- Inserts wait while a partition is attached (SHARE lock on the table, a moment): one
-- routed by the old partition list into the default partition would otherwise fail.
CREATE FUNCTION "kms_metric_partition_ensure"(day DATE) RETURNS BOOLEAN LANGUAGE plpgsql AS E'
DECLARE
  name TEXT := ''EncryptionMetric_p'' || to_char(day, ''YYYYMMDD'')\073
  low TIMESTAMPTZ := day::timestamp AT TIME ZONE ''UTC''\073
  high TIMESTAMPTZ := (day + 1)::timestamp AT TIME ZONE ''UTC''\073
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(''kms:metric-partitions'', 0))\073
  IF to_regclass(format(''%I'', name)) IS NOT NULL THEN
    RETURN false\073
  END IF\073
  LOCK TABLE "EncryptionMetric" IN SHARE MODE\073
  EXECUTE format(''CREATE TABLE %I (LIKE "EncryptionMetric" INCLUDING DEFAULTS)'', name)\073
  EXECUTE format(''WITH moved AS (DELETE FROM "EncryptionMetric_default" WHERE "timestamp" >= $1 AND "timestamp" < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved'', name)
    USING low, high\073
  EXECUTE format(''ALTER TABLE "EncryptionMetric" ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)'', name, low, high)\073
  EXECUTE format(''CREATE TRIGGER "EncryptionMetric_rows_inserted" AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "kms_metric_rows_inserted"()'', name)\073
  RETURN true\073
END';

-- The partitioned table. Same columns as before plus durationMicros, and the primary key
-- becomes ("timestamp", "id"): a partitioned table's unique constraints must contain
-- the partition key. Its index replaces EncryptionMetric_timestamp_idx.
ALTER TABLE "EncryptionMetric" RENAME TO "EncryptionMetric_unpartitioned";
ALTER TABLE "EncryptionMetric_unpartitioned" RENAME CONSTRAINT "EncryptionMetric_pkey" TO "EncryptionMetric_unpartitioned_pkey";
DROP INDEX "EncryptionMetric_failures_idx";
DROP INDEX "EncryptionMetric_timestamp_idx";

CREATE TABLE "EncryptionMetric" (
    "id" TEXT NOT NULL,
    "keyId" TEXT,
    "deviceId" TEXT,
    "operation" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "errorReason" TEXT,
    "errorDetail" TEXT,
    "duration" INTEGER NOT NULL,
    "durationMicros" INTEGER,
    "timestamp" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "EncryptionMetric_pkey" PRIMARY KEY ("timestamp","id")
) PARTITION BY RANGE ("timestamp");

CREATE INDEX "EncryptionMetric_failures_idx" ON "EncryptionMetric"("timestamp", "operation", "errorReason", "keyId", "deviceId") WHERE ("status" = 'failure');

CREATE TABLE "EncryptionMetric_default" PARTITION OF "EncryptionMetric" DEFAULT;

CREATE TRIGGER "EncryptionMetric_rows_inserted"
  AFTER INSERT ON "EncryptionMetric"
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT
  EXECUTE FUNCTION "kms_metric_rows_inserted"();

CREATE TRIGGER "EncryptionMetric_rows_inserted"
  AFTER INSERT ON "EncryptionMetric_default"
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT
  EXECUTE FUNCTION "kms_metric_rows_inserted"();

-- Existing rows: a partition per day that has any, then the rows themselves (the
-- trigger marks their buckets, so the rollup step builds them after the upgrade).
SELECT "kms_metric_partition_ensure"(day)
  FROM (SELECT DISTINCT ("timestamp" AT TIME ZONE 'UTC')::date AS day FROM "EncryptionMetric_unpartitioned") AS days;

INSERT INTO "EncryptionMetric" ("id", "keyId", "deviceId", "operation", "status", "errorReason", "errorDetail", "duration", "timestamp")
SELECT "id", "keyId", "deviceId", "operation", "status", "errorReason", "errorDetail", "duration", "timestamp"
  FROM "EncryptionMetric_unpartitioned";

DROP TABLE "EncryptionMetric_unpartitioned";
