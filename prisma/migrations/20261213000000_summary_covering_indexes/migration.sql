-- Key counts by state (the metrics summary, Prometheus) read the four lifecycle columns
-- of every key: with all four in the index, an index-only scan instead of the wide rows
-- (wrapped private keys, public keys). Leading columns unchanged for the daily job.
DROP INDEX "ClientEncryptionKey_deprecated_expiresAt_idx";

CREATE INDEX "ClientEncryptionKey_deprecated_expiresAt_revokedAt_deprecat_idx" ON "ClientEncryptionKey"("deprecated", "expiresAt", "revokedAt", "deprecatedAt");

-- Problem keys: the keys that failed in a bucket, now with that bucket's operations, so
-- that a key below the failure rate where it failed is dropped from an index-only scan.
DROP INDEX "MetricKeyRollup_failing_idx";

CREATE INDEX "MetricKeyRollup_failing_idx" ON "MetricKeyRollup"("grainSeconds", "bucketStart", "keyId", "failures", "operations") WHERE (failures > 0);
