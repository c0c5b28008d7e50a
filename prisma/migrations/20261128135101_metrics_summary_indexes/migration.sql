-- CreateIndex
CREATE INDEX "EncryptionMetric_failures_idx" ON "EncryptionMetric"("status", "timestamp", "operation", "errorReason", "keyId", "deviceId");

-- CreateIndex
CREATE INDEX "EncryptionMetric_keyId_timestamp_idx" ON "EncryptionMetric"("keyId", "timestamp");
