-- Scans of the key table (the metrics summary's count of keys by state) run in their own
-- backend: starting parallel workers cost tens of ms on a small machine, more than the
-- scans they would split. As a table setting, the count needs no transaction around a
-- SET LOCAL (three statements fewer per summary).
ALTER TABLE "ClientEncryptionKey" SET (parallel_workers = 0);
