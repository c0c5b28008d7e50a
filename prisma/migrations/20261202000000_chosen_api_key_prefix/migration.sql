-- The bootstrap admin key is chosen by a person: keep nothing of it.
-- Its first characters were stored as "prefix" and are erased here. Its plain SHA-256
-- stays until the key is next used (or the service starts with it still set), when
-- the service replaces it with a keyed hash under the newest pepper of AUTH_PEPPER.
-- An empty prefix is what marks a chosen key from now on.
UPDATE "ApiKey" SET "prefix" = '' WHERE "name" = 'bootstrap-admin';
