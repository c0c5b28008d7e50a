-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "ClientEncryptionKey" (
    "id" TEXT NOT NULL,
    "deviceId" TEXT NOT NULL,
    "appVersion" TEXT,
    "publicKey" TEXT NOT NULL,
    "privateKey" TEXT NOT NULL,
    "expiresAt" TIMESTAMPTZ(3),
    "deprecated" BOOLEAN NOT NULL DEFAULT false,
    "deprecatedAt" TIMESTAMPTZ(3),
    "revokedAt" TIMESTAMPTZ(3),
    "revokedReason" TEXT,
    "usageCount" INTEGER NOT NULL DEFAULT 0,
    "lastUsed" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ClientEncryptionKey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "EncryptionMetric" (
    "id" TEXT NOT NULL,
    "keyId" TEXT,
    "deviceId" TEXT,
    "operation" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "errorReason" TEXT,
    "duration" INTEGER NOT NULL,
    "timestamp" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "EncryptionMetric_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ClientEncryptionKey_deviceId_deprecated_expiresAt_idx" ON "ClientEncryptionKey"("deviceId", "deprecated", "expiresAt");

-- CreateIndex
CREATE INDEX "EncryptionMetric_timestamp_idx" ON "EncryptionMetric"("timestamp");
