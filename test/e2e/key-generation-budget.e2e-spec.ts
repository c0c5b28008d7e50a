import { request as httpRequest } from 'node:http';
import { ApiKeysService, Scope } from '../../src/access-control';
import { KeysService } from '../../src/keys';
import { MetricsRecorder } from '../../src/telemetry';
import { errorCode, GENERATE_KEY, newDeviceId } from '../support/operations';
import { GraphQLResponse, startTestApp, TestApp } from '../support/test-app';
import { createTestDatabase } from '../support/test-database';

const SECOND_MS = 1000;

/** One HTTP POST to /graphql from `localAddress` (any 127.x address reaches the test app). */
function postFrom(
  t: TestApp,
  localAddress: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const { port } = new URL(t.baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/graphql', method: 'POST', localAddress, headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** One operation with `devices.length` aliased generateEncryptionKey fields, one per device. */
function aliasedGenerations(devices: string[]): string {
  const fields = devices.map((deviceId, i) => `g${i}: generateEncryptionKey(input: { deviceId: "${deviceId}" }) { keyId }`);
  return `mutation { ${fields.join(' ')} }`;
}

const generate = (t: TestApp, headers?: Record<string, string>, deviceId = newDeviceId('budget')) =>
  t.gql(GENERATE_KEY, { input: { deviceId } }, headers);

/** What exists for the devices: key rows and per-device ledger rows. */
async function madeFor(t: TestApp, deviceIds: string[]) {
  const where = { deviceId: { in: deviceIds } };
  return {
    keys: await t.prisma.clientEncryptionKey.count({ where }),
    deviceLedger: await t.prisma.keyGeneration.count({ where }),
  };
}

const callerRows = (t: TestApp, caller?: string) => t.prisma.callerKeyGeneration.count({ where: caller ? { caller } : {} });

/** The internal reasons of the generate failures measured so far. */
async function generateFailureReasons(t: TestApp): Promise<string[]> {
  await t.app.get(MetricsRecorder).flush();
  const rows = await t.prisma.encryptionMetric.findMany({
    where: { operation: 'generate', status: 'failure' },
    select: { errorReason: true, errorDetail: true },
  });
  return rows.map((row) => `${row.errorReason}/${row.errorDetail}`);
}

/** The Prometheus text, every metric row flushed first. */
async function prometheus(t: TestApp): Promise<string> {
  await t.app.get(MetricsRecorder).flush();
  return (await fetch(`${t.baseUrl}/metrics`, { headers: t.as('ops') })).text();
}

function rateLimitedErrors(responses: GraphQLResponse[]) {
  return responses.flatMap((response) => response.errors ?? []).filter((error) => error.extensions.code === 'RATE_LIMITED');
}

describe('key generation budget per request (MAX_KEY_GEN_PER_REQUEST, default 3)', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp();
  });
  afterEach(() => t.close());

  it("the security review's request, a batch of 5 operations x 15 aliased generations, makes 3 keys; the rest are RATE_LIMITED", async () => {
    const devices = Array.from({ length: 5 }, () => Array.from({ length: 15 }, () => newDeviceId('review')));
    const mark = t.logs.mark();
    const { status, body } = await postFrom(
      t,
      '127.0.0.1',
      devices.map((batch) => ({ query: aliasedGenerations(batch) })),
    );

    expect(status).toBe(200);
    expect(body).toHaveLength(5);
    const all = devices.flat();
    expect(await madeFor(t, all)).toEqual({ keys: 3, deviceLedger: 3 });
    expect(await callerRows(t)).toBe(3);
    // A mutation's fields run one after the other and stop at the first error (non-null
    // field): each operation that met the cap reports it once.
    const refused = rateLimitedErrors(body as GraphQLResponse[]);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const error of refused) expect(error.extensions.retryAfterSeconds).toBe(1);
    expect(new Set(await generateFailureReasons(t))).toEqual(new Set(['RATE_LIMITED/request-generation-cap']));
    const line = t.logs.since(mark).find((entry) => entry.msg === 'request completed');
    expect(line?.reasons).toContain('request-generation-cap');
    // Prometheus tells the budgets from the per-device limit.
    const scrape = await prometheus(t);
    expect(scrape).toMatch(/^kms_key_generation_budget_rejections_total\{budget="request"\} [1-9]/m);
    expect(scrape).toMatch(/^kms_rate_limit_rejections_total 0$/m);
  });

  it('counts aliases of one operation: 3 of 5 are made and the operation reports the 4th', async () => {
    const devices = Array.from({ length: 5 }, () => newDeviceId('alias'));
    const response = await t.gql(aliasedGenerations(devices));

    expect(errorCode(response)).toBe('RATE_LIMITED');
    expect(response.errors![0]).toMatchObject({ path: ['g3'], extensions: { retryAfterSeconds: 1 } });
    expect(await madeFor(t, devices.slice(0, 3))).toEqual({ keys: 3, deviceLedger: 3 });
    expect(await madeFor(t, devices.slice(3))).toEqual({ keys: 0, deviceLedger: 0 });
  });

  it('counts each request on its own: the next request may generate again', async () => {
    expect(errorCode(await t.gql(aliasedGenerations(Array.from({ length: 4 }, () => newDeviceId('first')))))).toBe('RATE_LIMITED');
    expect((await t.gql(aliasedGenerations([newDeviceId('next'), newDeviceId('next')]))).errors).toBeUndefined();
  });

  it('follows MAX_KEY_GEN_PER_REQUEST', async () => {
    const one = await startTestApp({ env: { MAX_KEY_GEN_PER_REQUEST: '1' } });
    try {
      const devices = [newDeviceId('one'), newDeviceId('one')];
      expect(errorCode(await one.gql(aliasedGenerations(devices)))).toBe('RATE_LIMITED');
      expect(await madeFor(one, devices)).toEqual({ keys: 1, deviceLedger: 1 });
    } finally {
      await one.close();
    }
  });
});

describe('key generation budget per caller (MAX_KEY_GEN_PER_CALLER_PER_MINUTE)', () => {
  const BUDGET = 4;
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp({ env: { MAX_KEY_GEN_PER_CALLER_PER_MINUTE: String(BUDGET), MAX_KEY_GEN_PER_DEVICE: '2' } });
  });
  afterEach(() => t.close());

  const apiKey = async (name: string) => {
    const { apiKey: record, key } = await t.app.get(ApiKeysService).create(name, [Scope.CLIENT]);
    return { id: record.id, headers: { authorization: `Bearer ${key}` } };
  };

  it('lets exactly N of 20 simultaneous requests of one API key start, with nothing made for the others', async () => {
    const caller = await apiKey('backend');
    const devices = Array.from({ length: 20 }, () => newDeviceId('burst'));
    const responses = await Promise.all(devices.map((deviceId) => generate(t, caller.headers, deviceId)));

    expect(responses.filter((response) => !response.errors)).toHaveLength(BUDGET);
    const refused = rateLimitedErrors(responses);
    expect(refused).toHaveLength(20 - BUDGET);
    for (const error of refused) {
      expect(error.extensions.retryAfterSeconds).toBe(60); // the test clock stands still
    }
    expect(await madeFor(t, devices)).toEqual({ keys: BUDGET, deviceLedger: BUDGET });
    // The id names the caller; the key itself is stored nowhere.
    expect(await callerRows(t, `api-key:${caller.id}`)).toBe(BUDGET);
    expect(await callerRows(t)).toBe(BUDGET);
    expect(new Set(await generateFailureReasons(t))).toEqual(new Set(['RATE_LIMITED/caller-generation-budget']));
    const scrape = await prometheus(t);
    expect(scrape).toContain(`kms_key_generation_budget_rejections_total{budget="caller"} ${20 - BUDGET}`);
    expect(scrape).toMatch(/^kms_rate_limit_rejections_total 0$/m);
  });

  it('gives each API key and each anonymous address a budget of its own', async () => {
    const [a, b] = [await apiKey('app-a'), await apiKey('app-b')];
    for (let n = 0; n < BUDGET; n += 1) expect((await generate(t, a.headers)).errors).toBeUndefined();
    expect(errorCode(await generate(t, a.headers))).toBe('RATE_LIMITED');

    expect((await generate(t, b.headers)).errors).toBeUndefined();
    expect((await generate(t)).errors).toBeUndefined(); // anonymous, 127.0.0.1
  });

  it('counts anonymous callers by remote address and ignores X-Forwarded-For', async () => {
    const body = () => ({ query: GENERATE_KEY, variables: { input: { deviceId: newDeviceId('anon') } } });
    for (let n = 0; n < BUDGET; n += 1) {
      const { body: response } = await postFrom(t, '127.0.0.2', body(), { 'x-forwarded-for': `203.0.113.${n}` });
      expect(response.errors).toBeUndefined();
    }
    const spoofed = await postFrom(t, '127.0.0.2', body(), { 'x-forwarded-for': '198.51.100.7' });
    expect(errorCode(spoofed.body)).toBe('RATE_LIMITED');

    expect((await postFrom(t, '127.0.0.3', body())).body.errors).toBeUndefined();
    expect(await callerRows(t, 'address:127.0.0.2')).toBe(BUDGET);
    expect(await callerRows(t, 'address:127.0.0.3')).toBe(1);
  });

  it('slides: says when the oldest generation of the last minute frees up, and frees it then', async () => {
    const caller = await apiKey('sliding');
    await Promise.all([generate(t, caller.headers), generate(t, caller.headers)]);
    t.clock.advanceMs(20 * SECOND_MS);
    await Promise.all([generate(t, caller.headers), generate(t, caller.headers)]);

    const full = await generate(t, caller.headers);
    expect(errorCode(full)).toBe('RATE_LIMITED');
    expect(full.errors![0].extensions.retryAfterSeconds).toBe(40);
    t.clock.advanceMs(40 * SECOND_MS - 1);
    expect(errorCode(await generate(t, caller.headers))).toBe('RATE_LIMITED');
    t.clock.advanceMs(1); // the first two are a minute old: out of the window
    expect((await generate(t, caller.headers)).errors).toBeUndefined();
    expect((await generate(t, caller.headers)).errors).toBeUndefined();
    const again = await generate(t, caller.headers);
    expect(errorCode(again)).toBe('RATE_LIMITED');
    expect(again.errors![0].extensions.retryAfterSeconds).toBe(20);
  });

  it('counts only generations that start: device-limit refusals give their place back, budget refusals take none and write nothing', async () => {
    const caller = await apiKey('device-limited');
    const deviceId = newDeviceId('limited');
    for (let n = 0; n < 2; n += 1) expect((await generate(t, caller.headers, deviceId)).errors).toBeUndefined();
    const overDevice = await generate(t, caller.headers, deviceId);
    expect(errorCode(overDevice)).toBe('RATE_LIMITED');
    expect(await callerRows(t, `api-key:${caller.id}`)).toBe(2);

    for (let n = 0; n < BUDGET - 2; n += 1) expect((await generate(t, caller.headers)).errors).toBeUndefined();
    const untouched = newDeviceId('untouched');
    for (let n = 0; n < 3; n += 1) expect(errorCode(await generate(t, caller.headers, untouched))).toBe('RATE_LIMITED');

    expect(await madeFor(t, [untouched])).toEqual({ keys: 0, deviceLedger: 0 });
    expect(await callerRows(t, `api-key:${caller.id}`)).toBe(BUDGET);
    expect((await generateFailureReasons(t)).sort()).toEqual([
      'RATE_LIMITED/caller-generation-budget',
      'RATE_LIMITED/caller-generation-budget',
      'RATE_LIMITED/caller-generation-budget',
      'RATE_LIMITED/device-generation-limit',
    ]);
  });

  it('budgets HTTP requests only: the service called from inside the process is not', async () => {
    const caller = await apiKey('exhausted');
    for (let n = 0; n < BUDGET; n += 1) expect((await generate(t, caller.headers)).errors).toBeUndefined();
    expect(errorCode(await generate(t, caller.headers))).toBe('RATE_LIMITED');
    const inside = await t.app.get(KeysService).generate(newDeviceId('inside'), null);
    expect(inside.status).toBe('ACTIVE');
    expect(await callerRows(t)).toBe(BUDGET);
  });
});

describe('key generation budget across instances and per API key', () => {
  it('holds across two service instances on one database; KEY_GEN_CALLER_BUDGETS gives one key its own budget', async () => {
    const database = await createTestDatabase();
    const env = { MAX_KEY_GEN_PER_CALLER_PER_MINUTE: '3' };
    const a = await startTestApp({ database, env });
    let b: TestApp | undefined;
    try {
      const apiKeys = a.app.get(ApiKeysService);
      const shared = await apiKeys.create('shared', [Scope.CLIENT]);
      const proxy = await apiKeys.create('device-proxy', [Scope.CLIENT]);
      b = await startTestApp({ database, env: { ...env, KEY_GEN_CALLER_BUDGETS: `${proxy.apiKey.id}=5` } });
      const as = (key: string) => ({ authorization: `Bearer ${key}` });

      const devices = Array.from({ length: 10 }, () => newDeviceId('replicas'));
      const responses = await Promise.all(devices.map((deviceId, i) => generate(i % 2 ? a : b!, as(shared.key), deviceId)));
      expect(responses.filter((response) => !response.errors)).toHaveLength(3);
      expect(rateLimitedErrors(responses)).toHaveLength(7);
      expect(await madeFor(a, devices)).toEqual({ keys: 3, deviceLedger: 3 });

      // Instance b knows the proxy's own budget: 5 there, not 3.
      const proxied = await Promise.all(Array.from({ length: 7 }, () => generate(b!, as(proxy.key))));
      expect(proxied.filter((response) => !response.errors)).toHaveLength(5);
    } finally {
      await Promise.all([a.close(), b?.close()]);
      await database.drop();
    }
  });
});
