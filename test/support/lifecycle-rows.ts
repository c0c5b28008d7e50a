/**
 * Rows for the daily job, written with generate_series so that a million take
 * seconds, deterministically (same ids and times for the same arguments), so two
 * databases seeded alike can be compared after the job. Rows go in oldest first,
 * as a live service appends them. Keys carry no real key material: the job never reads it.
 */
export interface LifecycleRows {
  now: Date;
  /** Expired 1 to 201 days before `now`; every 10th also revoked, every 7th rotated out early. */
  expiredKeys?: number;
  /** Expiring 1 to 30 days after `now`. */
  activeKeys?: number;
  /** Older than `metricsRetentionDays`, one every 30 seconds. */
  oldMetrics?: number;
  /** One a second up to `now`. */
  recentMetrics?: number;
  metricsRetentionDays?: number;
  /** Half already expired, half not. */
  consumedCiphertexts?: number;
  /** Spread evenly over the 48 hours before `now`. */
  keyGenerations?: number;
  /**
   * UserCredential rows, last tried 0 to 119 minutes before `now`: every 4th has a
   * passcode, every 6th a lock that holds past `now`, the rest are placeholders.
   */
  credentials?: number;
  /** Per-caller budget ledger rows, spread evenly over the 2 minutes before `now`. */
  callerGenerations?: number;
  prefix?: string;
}

export type Execute = (sql: string, params: unknown[]) => Promise<unknown>;

export async function seedLifecycleRows(execute: Execute, rows: LifecycleRows): Promise<void> {
  const p = rows.prefix ?? 'seed';
  const now = rows.now.toISOString();
  const retention = rows.metricsRetentionDays ?? 90;
  await execute(
    `INSERT INTO "ClientEncryptionKey"
       ("id", "deviceId", "publicKey", "privateKey", "expiresAt", "deprecated", "deprecatedAt",
        "revokedAt", "revokedReason", "createdAt", "updatedAt")
     SELECT $1 || '-k-' || i, $1 || '-d-' || (i % 5000), 'seed', 'seed', e,
            i % 7 = 0, CASE WHEN i % 7 = 0 THEN e - interval '20 days' END,
            CASE WHEN i % 10 = 0 THEN e - interval '25 days' END,
            CASE WHEN i % 10 = 0 THEN 'seed' END, e - interval '30 days', e - interval '30 days'
     FROM generate_series(1, $3::int) AS i,
          LATERAL (SELECT $2::timestamptz - (1 + 200.0 * ($3::int - i) / $3::int) * interval '1 day' AS e) AS t`,
    [p, now, rows.expiredKeys ?? 0],
  );
  await execute(
    `INSERT INTO "ClientEncryptionKey"
       ("id", "deviceId", "publicKey", "privateKey", "expiresAt", "createdAt", "updatedAt")
     SELECT $1 || '-a-' || i, $1 || '-d-' || (i % 5000), 'seed', 'seed',
            $2::timestamptz + (1 + i % 30) * interval '1 day', $2::timestamptz, $2::timestamptz
     FROM generate_series(1, $3::int) AS i`,
    [p, now, rows.activeKeys ?? 0],
  );
  await execute(
    `INSERT INTO "EncryptionMetric" ("id", "keyId", "operation", "status", "duration", "timestamp")
     SELECT md5($1 || '-m-' || i)::uuid::text, $1 || '-k-' || (i % 1000), 'decrypt', 'success', i % 50,
            CASE WHEN i <= $4::int
                 THEN $2::timestamptz - ($5::int + 1) * interval '1 day' - ($4::int - i) * interval '30 seconds'
                 ELSE $2::timestamptz - ($3::int - i) * interval '1 second' END
     FROM generate_series(1, $3::int) AS i`,
    [p, now, (rows.oldMetrics ?? 0) + (rows.recentMetrics ?? 0), rows.oldMetrics ?? 0, retention],
  );
  await execute(
    `INSERT INTO "ConsumedCiphertext" ("hash", "keyId", "consumedAt", "expiresAt")
     SELECT md5($1 || '-c-' || i), $1 || '-k-' || i, $2::timestamptz - interval '1 day',
            $2::timestamptz + (CASE WHEN i % 2 = 0 THEN -1 ELSE 1 END) * (i % 40 + 1) * interval '1 hour'
     FROM generate_series(1, $3::int) AS i`,
    [p, now, rows.consumedCiphertexts ?? 0],
  );
  await execute(
    `INSERT INTO "KeyGeneration" ("id", "deviceId", "createdAt")
     SELECT md5($1 || '-g-' || i)::uuid::text, $1 || '-d-' || (i % 5000),
            $2::timestamptz - 2880.0 * ($3::int - i) / $3::int * interval '1 minute'
     FROM generate_series(1, $3::int) AS i`,
    [p, now, rows.keyGenerations ?? 0],
  );
  await execute(
    `INSERT INTO "UserCredential" ("userId", "passcodeHash", "passcodeFailedAttempts", "passcodeLockedUntil", "createdAt", "updatedAt")
     SELECT $1 || '-u-' || i, CASE WHEN i % 4 = 0 THEN 'seed' END, i % 5,
            CASE WHEN i % 6 = 0 THEN $2::timestamptz + interval '10 minutes' END,
            $2::timestamptz - interval '1 day', $2::timestamptz - (i % 120) * interval '1 minute'
     FROM generate_series(1, $3::int) AS i`,
    [p, now, rows.credentials ?? 0],
  );
  await execute(
    `INSERT INTO "CallerKeyGeneration" ("id", "caller", "createdAt")
     SELECT md5($1 || '-b-' || i)::uuid::text, 'api-key:' || $1 || '-' || (i % 7),
            $2::timestamptz - 120.0 * ($3::int - i) / $3::int * interval '1 second'
     FROM generate_series(1, $3::int) AS i`,
    [p, now, rows.callerGenerations ?? 0],
  );
}

type RawQuery = { $queryRawUnsafe<T = unknown>(sql: string): Promise<T> };

/** Every row the job can touch, in a stable order: equal snapshots mean equal end states. */
export async function snapshotLifecycleTables(db: RawQuery) {
  const rows = (table: string, key: string, where = 'TRUE') =>
    db.$queryRawUnsafe<Record<string, unknown>[]>(`SELECT * FROM "${table}" WHERE ${where} ORDER BY "${key}" COLLATE "C"`);
  return {
    keys: await rows('ClientEncryptionKey', 'id'),
    // Not the job's own runs (operation dailyJob): each run records itself.
    metrics: await rows('EncryptionMetric', 'id', `"operation" <> 'dailyJob'`),
    consumedCiphertexts: await rows('ConsumedCiphertext', 'hash'),
    keyGenerations: await rows('KeyGeneration', 'id'),
    credentials: await rows('UserCredential', 'userId'),
    callerGenerations: await rows('CallerKeyGeneration', 'id'),
  };
}
