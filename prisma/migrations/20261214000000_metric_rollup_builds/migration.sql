-- The metrics summary keeps closed buckets' key and device rollups in memory, keyed by
-- this build number: the rollup step writes a new one with every (re)build of a bucket.
CREATE TABLE "MetricRollupBuild" (
    "grainSeconds" INTEGER NOT NULL,
    "bucketStart" TIMESTAMPTZ(3) NOT NULL,
    "build" BIGSERIAL NOT NULL,

    CONSTRAINT "MetricRollupBuild_pkey" PRIMARY KEY ("grainSeconds","bucketStart")
);

-- Buckets built before this migration get their number now (every build writes a sketch).
INSERT INTO "MetricRollupBuild" ("grainSeconds", "bucketStart")
SELECT "grainSeconds", "bucketStart" FROM "MetricDeviceSketch"
 UNION
SELECT DISTINCT "grainSeconds", "bucketStart" FROM "MetricKeyRollup"
 ORDER BY 2, 1;
