-- The per-caller key generation budget's ledger (keys module)
CREATE TABLE "CallerKeyGeneration" (
    "id" TEXT NOT NULL,
    "caller" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "CallerKeyGeneration_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "CallerKeyGeneration_caller_createdAt_idx" ON "CallerKeyGeneration"("caller", "createdAt");

-- CreateIndex
CREATE INDEX "CallerKeyGeneration_createdAt_idx" ON "CallerKeyGeneration"("createdAt");
