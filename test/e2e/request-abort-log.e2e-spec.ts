import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { lockKeyInserts, until, untilKeyInsertWaits } from '../support/key-insert-lock';
import { GENERATE_KEY } from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';

/** A request whose client leaves before the answer still gets its one log line. */
describe('request log: a client that goes away', () => {
  let t: TestApp;
  let sql: Client;
  beforeAll(async () => {
    t = await startTestApp();
    sql = new Client({ connectionString: t.database.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql.end();
    await t.close();
  });

  const count = async (query: string, values: unknown[] = []) => Number((await sql.query(query, values)).rows[0].count);

  it('writes one warning line for the aborted request, and none as completed', async () => {
    const mark = t.logs.mark();
    const aborted = new AbortController();
    const deviceId = 'abort-log-device';
    // The client leaves while the service is surely answering: its key insert waits for
    // our lock. (Leaving after a fixed delay left, on a busy machine, before the request
    // had even reached the service, and then nothing was logged.)
    await lockKeyInserts(sql);
    try {
      const request = fetch(`${t.baseUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'leaves-early-1' },
        body: JSON.stringify({ query: GENERATE_KEY, variables: { input: { deviceId } } }),
        signal: aborted.signal,
      });
      request.catch(() => undefined);
      await untilKeyInsertWaits(sql);
      aborted.abort();
      await expect(request).rejects.toThrow();
      await until('the request line', async () => t.logs.since(mark).some((line) => line.req?.id === 'leaves-early-1'));
    } finally {
      await sql.query('ROLLBACK');
    }
    // The service finishes its work for nobody: still no second line once it has.
    await until('the key stored', async () => (await count('SELECT count(*) FROM "ClientEncryptionKey" WHERE "deviceId" = $1', [deviceId])) === 1);
    await sleep(200);
    expect(t.logs.since(mark).filter((line) => line.req?.id === 'leaves-early-1')).toEqual([
      expect.objectContaining({ level: 40, msg: 'request aborted', aborted: true, req: { id: 'leaves-early-1', method: 'POST', url: '/graphql' } }),
    ]);
  });
});
