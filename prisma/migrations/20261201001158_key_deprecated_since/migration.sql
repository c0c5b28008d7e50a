-- Every deprecation records since when, as retention is counted from it. Rows
-- written before that rule get the earliest moment known for them. (A CHECK
-- constraint would say it better, but Prisma's schema engine, 7.10 in wasm,
-- cannot read one back when it computes the next migration.)
UPDATE "ClientEncryptionKey"
   SET "deprecatedAt" = LEAST("expiresAt", "updatedAt")
 WHERE "deprecated" AND "deprecatedAt" IS NULL;
