-- CreateIndex
CREATE INDEX "EncryptionMetric_failures_idx" ON "EncryptionMetric"("timestamp", "operation", "errorReason", "keyId", "deviceId") WHERE ("status" = 'failure');
