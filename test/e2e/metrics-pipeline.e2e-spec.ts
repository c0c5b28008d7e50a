import { Client } from 'pg';
import { KeysRepository } from '../../src/keys/keys.repository';
import { MetricsRecorder } from '../../src/telemetry';
import { decrypt, encrypt, errorCode, generateKey, newDeviceId } from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';
import { createTestDatabase } from '../support/test-database';

/** Rows are only written on flush, shutdown or a full batch in these apps. */
const SLOW_FLUSH = { METRICS_FLUSH_INTERVAL_MS: '60000', METRICS_BATCH_SIZE: '10000' };

const event = (n: number) => ({
  operation: 'encrypt' as const,
  status: 'success' as const,
  deviceId: `buffered-${n}`,
  duration: n,
  timestamp: new Date(),
});

async function scrape(t: TestApp, headers: Record<string, string> = t.as('ops')) {
  const response = await fetch(`${t.baseUrl}/metrics`, { headers });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

/** The value of one sample line, e.g. `kms_keys{state="active"}`; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function countRows(url: string, where = 'TRUE', values: unknown[] = []): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM "EncryptionMetric" WHERE ${where}`, values);
    return rows[0].n;
  } finally {
    await client.end();
  }
}

describe('metric rows: batching and shutdown', () => {
  it('writes every buffered row when the app closes, including that of a request still running then', async () => {
    const database = await createTestDatabase();
    try {
      const t = await startTestApp({ database, env: SLOW_FLUSH });
      const recorder = t.app.get(MetricsRecorder);
      for (let n = 1; n <= 250; n += 1) recorder.record(event(n));
      const deviceId = newDeviceId('closing');
      await generateKey(t, deviceId);
      expect(recorder.depth).toBe(251);
      expect(await countRows(database.url)).toBe(0);

      // A generation held inside the service while the app starts closing.
      const keys = t.app.get(KeysRepository);
      const create = keys.createWithinLimit.bind(keys);
      let entered!: () => void;
      let release!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      const gate = new Promise<void>((resolve) => (release = resolve));
      jest.spyOn(keys, 'createWithinLimit').mockImplementation(async (...args) => {
        entered();
        await gate;
        return create(...args);
      });
      const running = generateKey(t, deviceId);
      await inside;

      // Closing first drains GraphQL (Apollo stops accepting, lets running requests end).
      const closing = t.close();
      const server = t.app.getHttpServer();
      while (server.listening) await new Promise((resolve) => setTimeout(resolve, 5));
      release();
      expect((await running).deviceId).toBe(deviceId);
      await closing;

      expect(await countRows(database.url)).toBe(252);
      expect(await countRows(database.url, `"deviceId" = $1 AND "operation" = 'generate' AND "status" = 'success'`, [deviceId]))
        .toBe(2);
      expect(recorder.dropped).toBe(0);
    } finally {
      await database.drop();
    }
  });

  it('bounds the buffer: beyond METRICS_BUFFER_MAX new rows are dropped and counted', async () => {
    const t = await startTestApp({ env: { ...SLOW_FLUSH, METRICS_BUFFER_MAX: '100' } });
    try {
      const recorder = t.app.get(MetricsRecorder);
      for (let n = 1; n <= 150; n += 1) recorder.record(event(n));
      expect(recorder.depth).toBe(100);
      expect(recorder.dropped).toBe(50);

      const { text } = await scrape(t);
      expect(sample(text, 'kms_metric_buffer_rows')).toBe(100);
      expect(sample(text, 'kms_metric_rows_dropped_total')).toBe(50);
      // Prometheus saw every event, dropped or not.
      expect(sample(text, 'kms_operations_total{operation="encrypt",outcome="success"}')).toBe(150);

      await recorder.flush();
      expect(await countRows(t.database.url)).toBe(100);
      expect(await countRows(t.database.url, `"deviceId" = 'buffered-101'`)).toBe(0);
      expect(recorder.depth).toBe(0);
    } finally {
      await t.close();
    }
  });
});

describe('GET /metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('exposes operation counters, durations, rate-limit rejections and key states after real operations', async () => {
    const deviceId = newDeviceId('prom');
    const keys = [];
    for (let n = 0; n < 5; n += 1) keys.push(await generateKey(t, deviceId));
    expect(errorCode(await t.gql(
      `mutation G($input: GenerateEncryptionKeyInput!) { generateEncryptionKey(input: $input) { keyId } }`,
      { input: { deviceId } },
    ))).toBe('RATE_LIMITED');
    const encrypted = await encrypt(t, { keyId: keys[0].keyId, data: 'x' });
    expect(encrypted.errors).toBeUndefined();
    expect(errorCode(await decrypt(t, { keyId: keys[0].keyId, encryptedData: 'AAAA' }, t.as('service')))).toBe('DECRYPTION_FAILED');
    await t.prisma.clientEncryptionKey.update({ where: { id: keys[1].keyId }, data: { revokedAt: t.clock.now() } });
    await t.prisma.clientEncryptionKey.update({
      where: { id: keys[2].keyId },
      data: { deprecated: true, deprecatedAt: t.clock.now() },
    });

    // Nothing waits in the buffer once it is flushed (a scrape is not a measured operation).
    await t.app.get(MetricsRecorder).flush();
    const { status, type, text } = await scrape(t);
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain;.*version=0\.0\.4/);
    expect(sample(text, 'kms_operations_total{operation="generate",outcome="success"}')).toBe(5);
    expect(sample(text, 'kms_operations_total{operation="generate",outcome="failure"}')).toBe(1);
    expect(sample(text, 'kms_operations_total{operation="encrypt",outcome="success"}')).toBe(1);
    expect(sample(text, 'kms_operations_total{operation="decrypt",outcome="failure"}')).toBe(1);
    expect(sample(text, 'kms_operation_failures_total{operation="generate",reason="RATE_LIMITED"}')).toBe(1);
    expect(sample(text, 'kms_operation_failures_total{operation="decrypt",reason="DECRYPTION_FAILED"}')).toBe(1);
    expect(sample(text, 'kms_rate_limit_rejections_total')).toBe(1);
    expect(sample(text, 'kms_operation_duration_seconds_count{operation="generate",outcome="success"}')).toBe(5);
    expect(sample(text, 'kms_operation_duration_seconds_bucket{le="+Inf",operation="generate",outcome="success"}')).toBe(5);
    expect(sample(text, 'kms_operation_duration_seconds_sum{operation="generate",outcome="success"}')).toBeGreaterThan(0);
    expect(sample(text, 'kms_keys{state="active"}')).toBe(3);
    expect(sample(text, 'kms_keys{state="deprecated"}')).toBe(1);
    expect(sample(text, 'kms_keys{state="revoked"}')).toBe(1);
    expect(sample(text, 'kms_keys{state="awaiting_deletion"}')).toBe(0);
    expect(sample(text, 'kms_metric_rows_dropped_total')).toBe(0);
    expect(sample(text, 'kms_metric_write_failures_total')).toBe(0);
    expect(sample(text, 'kms_metric_buffer_rows')).toBe(0);
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(text).toContain('# TYPE nodejs_heap_size_used_bytes gauge');
  });

  it('answers only an API key with the ops scope', async () => {
    expect((await scrape(t, {})).status).toBe(401);
    expect((await scrape(t, { authorization: 'Bearer kms_unknown' })).status).toBe(401);
    const wrongScope = await scrape(t, t.as('service'));
    expect(wrongScope.status).toBe(403);
    expect(wrongScope.text).not.toContain('kms_operations_total');
    expect((await scrape(t, t.as('admin'))).status).toBe(403);
    expect((await scrape(t)).status).toBe(200);
  });

  it('counts operations per app: another app in the same process starts from zero', async () => {
    const other = await startTestApp();
    try {
      const { text } = await scrape(other);
      expect(sample(text, 'kms_operations_total{operation="generate",outcome="success"}')).toBeUndefined();
      expect(sample(text, 'kms_keys{state="active"}')).toBe(0);
    } finally {
      await other.close();
    }
  });
});
