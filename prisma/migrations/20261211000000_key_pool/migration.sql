-- The key pool: RSA-2048 key pairs made ahead of need, off the request path, so that
-- generateEncryptionKey only claims one. A pair's id is the id its key will have in
-- ClientEncryptionKey, and its private key is wrapped as a stored key's is (the row id as
-- authenticated data), so claiming moves the row without unwrapping anything.

-- CreateTable
CREATE TABLE "KeyPoolPair" (
    "id" TEXT NOT NULL,
    "publicKey" TEXT NOT NULL,
    "privateKey" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "KeyPoolPair_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "KeyPoolPair_createdAt_idx" ON "KeyPoolPair"("createdAt");
