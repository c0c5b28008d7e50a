-- CreateIndex
CREATE INDEX "ClientEncryptionKey_deprecated_expiresAt_idx" ON "ClientEncryptionKey"("deprecated", "expiresAt");

-- CreateIndex
CREATE INDEX "KeyGeneration_createdAt_idx" ON "KeyGeneration"("createdAt");
