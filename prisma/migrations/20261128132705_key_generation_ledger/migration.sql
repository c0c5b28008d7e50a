-- CreateTable
CREATE TABLE "KeyGeneration" (
    "id" TEXT NOT NULL,
    "deviceId" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "KeyGeneration_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "KeyGeneration_deviceId_createdAt_idx" ON "KeyGeneration"("deviceId", "createdAt");
