-- CreateTable
CREATE TABLE "ConsumedCiphertext" (
    "hash" TEXT NOT NULL,
    "keyId" TEXT NOT NULL,
    "consumedAt" TIMESTAMPTZ(3) NOT NULL,
    "expiresAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ConsumedCiphertext_pkey" PRIMARY KEY ("hash")
);

-- CreateIndex
CREATE INDEX "ConsumedCiphertext_expiresAt_idx" ON "ConsumedCiphertext"("expiresAt");
