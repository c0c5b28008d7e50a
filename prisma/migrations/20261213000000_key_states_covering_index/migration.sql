-- Key counts by state (the metrics summary, Prometheus) read the four lifecycle columns
-- of every key: with all four in the index, an index-only scan instead of the wide rows
-- (wrapped private keys, public keys). Leading columns unchanged for the daily job.
DROP INDEX "ClientEncryptionKey_deprecated_expiresAt_idx";

CREATE INDEX "ClientEncryptionKey_deprecated_expiresAt_revokedAt_deprecat_idx" ON "ClientEncryptionKey"("deprecated", "expiresAt", "revokedAt", "deprecatedAt");
