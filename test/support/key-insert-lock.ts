import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from 'pg';

/** Polls `check` every 25 ms until it holds (a deadlock guard, not a speed check). */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * Freezes key generations at their insert: `sql` takes a SHARE lock on
 * ClientEncryptionKey in a transaction (ended by the caller's ROLLBACK), so a service's
 * INSERT of a key waits, after everything before it in its transaction.
 */
export async function lockKeyInserts(sql: Client): Promise<void> {
  await sql.query('BEGIN');
  await sql.query('LOCK TABLE "ClientEncryptionKey" IN SHARE MODE');
}

/** Until one key insert is waiting for the lock lockKeyInserts took: a request surely in flight. */
export function untilKeyInsertWaits(sql: Client): Promise<void> {
  return until('the key insert waiting', async () => {
    const { rows } = await sql.query(
      `SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
        WHERE c.relname = 'ClientEncryptionKey' AND NOT l.granted`,
    );
    return Number(rows[0].count) === 1;
  });
}
