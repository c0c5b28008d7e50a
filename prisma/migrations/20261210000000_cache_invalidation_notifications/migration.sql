-- Cache invalidation (LISTEN/NOTIFY): every worker of every replica caches API keys and
-- device key rows, and forgets one as soon as a change to it commits. The notifications
-- come from the database itself, so that every writer is covered (the service, the CLIs,
-- the daily job, an operator's SQL). They fire only when something a cache holds changes,
-- never for the usage counters written every second (usageCount, lastUsed, lastUsedAt).
-- The payload is the row's id.

-- The migration runner splits scripts at every semicolon, quotes or not: the function's
-- own statement separators are written as the escape \073 (a semicolon) in an E'' string.
CREATE FUNCTION "kms_notify_row_changed"() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  PERFORM pg_notify(TG_ARGV[0], OLD."id")\073
  RETURN NULL\073
END';

CREATE TRIGGER "ClientEncryptionKey_changed"
  AFTER UPDATE OF "id", "deviceId", "appVersion", "publicKey", "privateKey", "expiresAt", "deprecated", "deprecatedAt", "revokedAt", "createdAt"
  ON "ClientEncryptionKey"
  FOR EACH ROW
  WHEN ((OLD."id", OLD."deviceId", OLD."appVersion", OLD."publicKey", OLD."privateKey", OLD."expiresAt", OLD."deprecated", OLD."deprecatedAt", OLD."revokedAt", OLD."createdAt")
        IS DISTINCT FROM
        (NEW."id", NEW."deviceId", NEW."appVersion", NEW."publicKey", NEW."privateKey", NEW."expiresAt", NEW."deprecated", NEW."deprecatedAt", NEW."revokedAt", NEW."createdAt"))
  EXECUTE FUNCTION "kms_notify_row_changed"('kms_device_key_changed');

CREATE TRIGGER "ClientEncryptionKey_deleted"
  AFTER DELETE ON "ClientEncryptionKey"
  FOR EACH ROW
  EXECUTE FUNCTION "kms_notify_row_changed"('kms_device_key_changed');

CREATE TRIGGER "ApiKey_changed"
  AFTER UPDATE OF "id", "name", "keyHash", "scopes", "revokedAt"
  ON "ApiKey"
  FOR EACH ROW
  WHEN ((OLD."id", OLD."name", OLD."keyHash", OLD."scopes", OLD."revokedAt")
        IS DISTINCT FROM
        (NEW."id", NEW."name", NEW."keyHash", NEW."scopes", NEW."revokedAt"))
  EXECUTE FUNCTION "kms_notify_row_changed"('kms_api_key_changed');

CREATE TRIGGER "ApiKey_deleted"
  AFTER DELETE ON "ApiKey"
  FOR EACH ROW
  EXECUTE FUNCTION "kms_notify_row_changed"('kms_api_key_changed');
