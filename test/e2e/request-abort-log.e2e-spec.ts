import { setTimeout as sleep } from 'node:timers/promises';
import { GENERATE_KEY } from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';

/** A request whose client leaves before the answer still gets its one log line. */
describe('request log: a client that goes away', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('writes one warning line for the aborted request, and none as completed', async () => {
    const mark = t.logs.mark();
    const aborted = new AbortController();
    // A key generation with no pool makes an RSA-2048 pair: far longer than the 5 ms before the client leaves.
    const request = fetch(`${t.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'leaves-early-1' },
      body: JSON.stringify({ query: GENERATE_KEY, variables: { input: { deviceId: 'abort-log-device' } } }),
      signal: aborted.signal,
    });
    await sleep(5);
    aborted.abort();
    await expect(request).rejects.toThrow();
    let lines: ReturnType<typeof t.logs.since> = [];
    for (let waited = 0; waited < 5_000 && lines.length === 0; waited += 50) {
      await sleep(50);
      lines = t.logs.since(mark).filter((line) => line.req?.id === 'leaves-early-1');
    }
    expect(lines).toEqual([
      expect.objectContaining({ level: 40, msg: 'request aborted', aborted: true, req: { id: 'leaves-early-1', method: 'POST', url: '/graphql' } }),
    ]);
  });
});
