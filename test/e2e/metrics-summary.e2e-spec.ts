import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isPastRetention, keyStatus } from '../../src/keys/key-lifecycle';
import { MetricRollups, PERCENTILE_RELATIVE_ERROR } from '../../src/telemetry';
import { errorCode } from '../support/operations';
import { startTestApp, TestApp } from '../support/test-app';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const FROM = new Date(NOW.getTime() - 24 * HOUR);
const at = (msBeforeNow: number) => new Date(NOW.getTime() - msBeforeNow);
const MIN = 60 * 1000;

const SEED_QUERY = 'query { getEncryptionMetricsSummary(timeframeHours: 24) }';

interface Row {
  operation: string;
  status: 'success' | 'failure';
  errorReason?: string;
  duration: number;
  keyId?: string;
  deviceId?: string;
  timestamp: Date;
}
const ok = (operation: string, duration: number, rest: Partial<Row> = {}): Row => ({
  operation, status: 'success', duration, timestamp: at(30 * MIN), ...rest,
});
const failed = (operation: string, errorReason: string, duration: number, rest: Partial<Row> = {}): Row => ({
  operation, status: 'failure', errorReason, duration, timestamp: at(30 * MIN), ...rest,
});
const times = (n: number, row: Row) => Array.from({ length: n }, () => row);

/** Every figure of the expected summary below is worked out by hand from these rows. */
const ROWS: Row[] = [
  // encrypt, k1/d1: durations 10..50, one at the window start and one exactly at now.
  ok('encrypt', 10, { keyId: 'k1', deviceId: 'd1', timestamp: FROM }),
  ok('encrypt', 20, { keyId: 'k1', deviceId: 'd1' }),
  ok('encrypt', 30, { keyId: 'k1', deviceId: 'd1' }),
  ok('encrypt', 40, { keyId: 'k1', deviceId: 'd1' }),
  failed('encrypt', 'KEY_EXPIRED', 50, { keyId: 'k1', deviceId: 'd1', timestamp: NOW }),
  // decrypt, k2/d1: 3 failures of 4.
  ok('decrypt', 1, { keyId: 'k2', deviceId: 'd1' }),
  failed('decrypt', 'DECRYPTION_FAILED', 2, { keyId: 'k2', deviceId: 'd1' }),
  failed('decrypt', 'DECRYPTION_FAILED', 3, { keyId: 'k2', deviceId: 'd1' }),
  failed('decrypt', 'KEY_REVOKED', 4, { keyId: 'k2', deviceId: 'd1' }),
  // verifyPasscode, d4: k3 3/10 failures (exactly the 0.3 threshold), k4 2/10, k5 3/11.
  ...times(7, ok('verifyPasscode', 7, { keyId: 'k3', deviceId: 'd4' })),
  ...times(3, failed('verifyPasscode', 'DECRYPTION_FAILED', 7, { keyId: 'k3', deviceId: 'd4' })),
  ...times(8, ok('verifyPasscode', 7, { keyId: 'k4', deviceId: 'd4' })),
  ...times(2, failed('verifyPasscode', 'DECRYPTION_FAILED', 7, { keyId: 'k4', deviceId: 'd4' })),
  ...times(8, ok('verifyPasscode', 7, { keyId: 'k5', deviceId: 'd4' })),
  ...times(3, failed('verifyPasscode', 'DECRYPTION_FAILED', 7, { keyId: 'k5', deviceId: 'd4' })),
  // verifyPasscode, k6/d5: a user guessing (wrong, wrong and locked, then refused while
  // locked): checks by outcome, and no failure of the key (k6 is no problem key).
  failed('verifyPasscode', 'CREDENTIAL_INVALID', 7, { keyId: 'k6', deviceId: 'd5' }),
  failed('verifyPasscode', 'CREDENTIAL_LOCKED_OUT', 7, { keyId: 'k6', deviceId: 'd5' }),
  ...times(2, failed('verifyPasscode', 'CREDENTIAL_LOCKED', 7, { keyId: 'k6', deviceId: 'd5' })),
  // generate: d2 two keys then three refusals, d3 one refusal.
  ok('generate', 150, { keyId: 'g1', deviceId: 'd2' }),
  ok('generate', 160, { keyId: 'g2', deviceId: 'd2' }),
  failed('generate', 'RATE_LIMITED', 1, { deviceId: 'd2', timestamp: at(30 * MIN) }),
  failed('generate', 'RATE_LIMITED', 2, { deviceId: 'd2', timestamp: at(20 * MIN) }),
  failed('generate', 'RATE_LIMITED', 3, { deviceId: 'd2', timestamp: at(10 * MIN) }),
  failed('generate', 'RATE_LIMITED', 4, { deviceId: 'd3', timestamp: at(5 * MIN) }),
  // No key, no device.
  failed('changePasscode', 'BAD_USER_INPUT', 9),
  // Outside the window: 1 ms before its start (would make k5 a problem key and d9 active),
  // and 1 ms after now (a rate-limit refusal of d9).
  failed('encrypt', 'INTERNAL', 1000, { keyId: 'k5', deviceId: 'd9', timestamp: new Date(FROM.getTime() - 1) }),
  failed('generate', 'RATE_LIMITED', 2000, { deviceId: 'd9', timestamp: new Date(NOW.getTime() + 1) }),
];

/**
 * A percentile read from the duration histogram: within its stated relative error of
 * the exact (percentile_cont) value, give or take the rounding to 2 decimals.
 */
const nearPercentile = (exact: number) => ({
  asymmetricMatch: (value: number) => Math.abs(value - exact) <= exact * PERCENTILE_RELATIVE_ERROR + 0.005,
  toAsymmetricMatcher: () => `within ${(PERCENTILE_RELATIVE_ERROR * 100).toFixed(2)}% of ${exact}`,
});

const operation = (
  name: string,
  counts: number[],
  failuresByReason: [string, number][],
  { p50, p95, p99, ...exact }: { avg: number; p50: number; p95: number; p99: number; max: number },
) => ({
  operation: name,
  total: counts[0],
  successes: counts[1],
  failures: counts[2],
  successRate: counts[3],
  durationMs: { ...exact, p50: nearPercentile(p50), p95: nearPercentile(p95), p99: nearPercentile(p99) },
  failuresByReason: failuresByReason.map(([reason, count]) => ({ reason, count })),
});

const EXPECTED = {
  window: { from: FROM.toISOString(), to: NOW.toISOString(), hours: 24 },
  totals: { total: 51, successes: 30, failures: 21, successRate: 0.5882 },
  operations: [
    operation('changePasscode', [1, 0, 1, 0], [['BAD_USER_INPUT', 1]], { avg: 9, p50: 9, p95: 9, p99: 9, max: 9 }),
    operation('decrypt', [4, 1, 3, 0.25], [['DECRYPTION_FAILED', 2], ['KEY_REVOKED', 1]], {
      avg: 2.5, p50: 2.5, p95: 3.85, p99: 3.97, max: 4,
    }),
    operation('encrypt', [5, 4, 1, 0.8], [['KEY_EXPIRED', 1]], { avg: 30, p50: 30, p95: 48, p99: 49.6, max: 50 }),
    // Sorted durations 1 2 3 4 150 160: p50 at rank 2.5, p95 at 4.75, p99 at 4.95 (0-based).
    // Percentiles: the exact percentile_cont figures, which the histogram's must be near.
    operation('generate', [6, 2, 4, 0.3333], [['RATE_LIMITED', 4]], {
      avg: 53.33, p50: 3.5, p95: 157.5, p99: 159.5, max: 160,
    }),
    operation(
      'verifyPasscode',
      [35, 23, 12, 0.6571],
      [['DECRYPTION_FAILED', 8], ['CREDENTIAL_LOCKED', 2], ['CREDENTIAL_INVALID', 1], ['CREDENTIAL_LOCKED_OUT', 1]],
      { avg: 7, p50: 7, p95: 7, p99: 7, max: 7 },
    ),
  ],
  failuresByReason: [
    { reason: 'DECRYPTION_FAILED', count: 10 },
    { reason: 'RATE_LIMITED', count: 4 },
    { reason: 'CREDENTIAL_LOCKED', count: 2 },
    { reason: 'BAD_USER_INPUT', count: 1 },
    { reason: 'CREDENTIAL_INVALID', count: 1 },
    { reason: 'CREDENTIAL_LOCKED_OUT', count: 1 },
    { reason: 'KEY_EXPIRED', count: 1 },
    { reason: 'KEY_REVOKED', count: 1 },
  ],
  keyGeneration: { total: 6, successes: 2, failures: 4, successRate: 0.3333, failureRate: 0.6667 },
  devices: {
    active: 5,
    top: [
      { deviceId: 'd4', operations: 31, failures: 8 },
      { deviceId: 'd1', operations: 9, failures: 4 },
      { deviceId: 'd2', operations: 5, failures: 3 },
      { deviceId: 'd5', operations: 4, failures: 4 },
      { deviceId: 'd3', operations: 1, failures: 1 },
    ],
    rateLimitedCount: 2,
    rateLimited: [
      { deviceId: 'd2', rejections: 3, lastRejectedAt: at(10 * MIN).toISOString() },
      { deviceId: 'd3', rejections: 1, lastRejectedAt: at(5 * MIN).toISOString() },
    ],
  },
  credentialChecks: [
    { operation: 'changePasscode', valid: 0, invalid: 0, locked: 0, lockouts: 0 },
    { operation: 'verifyPasscode', valid: 23, invalid: 2, locked: 2, lockouts: 1 },
  ],
  problematicKeys: {
    minFailures: 3,
    minFailureRate: 0.3,
    count: 2,
    keys: [
      { keyId: 'k2', operations: 4, failures: 3, failureRate: 0.75 },
      { keyId: 'k3', operations: 10, failures: 3, failureRate: 0.3 },
    ],
  },
  keys: { active: 2, deprecated: 4, revoked: 1, awaitingDeletion: 3 },
};

/** Keys in every state at NOW (KEY_RETENTION_DAYS = 90), edges included. */
const KEYS = [
  { id: 'active-expiring', expiresAt: new Date(NOW.getTime() + DAY) },
  { id: 'active-no-expiry', expiresAt: null },
  { id: 'expired-now-unmarked', expiresAt: NOW },
  { id: 'deprecated-marked', deprecated: true, deprecatedAt: at(DAY), expiresAt: new Date(NOW.getTime() + 10 * DAY) },
  { id: 'deprecated-without-date', deprecated: true, expiresAt: new Date(NOW.getTime() + DAY) },
  { id: 'expired-just-in-retention', expiresAt: new Date(NOW.getTime() - 90 * DAY + 1) },
  { id: 'revoked', revokedAt: at(DAY), expiresAt: new Date(NOW.getTime() + DAY) },
  { id: 'expired-exactly-retention-ago', expiresAt: at(90 * DAY) },
  { id: 'revoked-long-ago', revokedAt: at(100 * DAY), expiresAt: new Date(NOW.getTime() + DAY) },
  { id: 'deprecated-long-ago', deprecated: true, deprecatedAt: at(91 * DAY), expiresAt: new Date(NOW.getTime() + DAY) },
].map((key) => ({ deprecated: false, deprecatedAt: null, revokedAt: null, ...key }));

const TYPED_QUERY = `query Typed($hours: Int) {
  encryptionMetricsSummary(timeframeHours: $hours) {
    window { from to hours }
    totals { total successes failures successRate }
    operations {
      operation total successes failures successRate
      durationMs { avg p50 p95 p99 max }
      failuresByReason { reason count }
    }
    failuresByReason { reason count }
    keyGeneration { total successes failures successRate failureRate }
    devices {
      active
      top { deviceId operations failures }
      rateLimitedCount
      rateLimited { deviceId rejections lastRejectedAt }
    }
    credentialChecks { operation valid invalid locked lockouts }
    problematicKeys { minFailures minFailureRate count keys { keyId operations failures failureRate } }
    keys { active deprecated revoked awaitingDeletion }
  }
}`;

describe('metrics summary', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: { METRICS_PROBLEM_KEY_MIN_FAILURES: '3', METRICS_PROBLEM_KEY_FAILURE_RATE: '0.3' },
    });
    t.clock.set(NOW);
    await t.prisma.encryptionMetric.createMany({ data: ROWS });
    await t.prisma.clientEncryptionKey.createMany({
      data: KEYS.map((key) => ({ ...key, deviceId: 'dk', publicKey: 'pem', privateKey: 'wrapped', updatedAt: NOW })),
    });
  });
  afterAll(() => t.close());

  const summary = async (hours?: number) => {
    const response = await t.gql(
      `query Summary($hours: Int) { getEncryptionMetricsSummary(timeframeHours: $hours) }`,
      hours === undefined ? {} : { hours },
      t.as('ops'),
    );
    expect(response.errors).toBeUndefined();
    return response.data!.getEncryptionMetricsSummary;
  };

  it("answers the seed's exact query with every figure right", async () => {
    const response = await t.gql(SEED_QUERY, undefined, t.as('ops'));
    expect(response.errors).toBeUndefined();
    expect(response.data!.getEncryptionMetricsSummary).toEqual(EXPECTED);
  });

  it('gives the same figures once the rollups are built (closed hours from rollups, the rest raw)', async () => {
    const rollups = t.app.get(MetricRollups);
    expect(await rollups.run()).toMatchObject({ acquired: true, built: expect.any(Number) });
    expect(await t.prisma.metricRollupDirty.count({ where: { grainSeconds: 3600, bucketStart: { lt: NOW } } })).toBe(0);
    expect(await t.prisma.metricRollup.count()).toBeGreaterThan(0);
    expect(await summary(24)).toEqual(EXPECTED);
  });

  it('defaults to 24 hours', async () => {
    expect(await summary()).toEqual(EXPECTED);
  });

  it('counts key states by the same rules as key-lifecycle.ts', async () => {
    expect(keyStatesByRules(NOW)).toEqual(EXPECTED.keys);
    expect((await summary()).keys).toEqual(EXPECTED.keys);
  });

  it('gives the same figures as typed fields', async () => {
    const response = await t.gql(TYPED_QUERY, { hours: 24 }, t.as('ops'));
    expect(response.errors).toBeUndefined();
    expect(response.data!.encryptionMetricsSummary).toEqual(EXPECTED);
  });

  it('moves the window with the clock: 1 ms later the row at its start is out, the one after now in', async () => {
    t.clock.set(new Date(NOW.getTime() + 1));
    try {
      const later = await summary(24);
      const encrypt = later.operations.find((entry: { operation: string }) => entry.operation === 'encrypt');
      expect(encrypt).toMatchObject({ total: 4, successes: 3, durationMs: { max: 50, p50: nearPercentile(35) } });
      expect(later.devices.rateLimitedCount).toBe(3); // d9's refusal, 1 ms after NOW, is now inside
    } finally {
      t.clock.set(NOW);
    }
  });

  it('has zeros, empty lists and null rates for an empty window', async () => {
    t.clock.set(new Date(NOW.getTime() + 2 * DAY));
    try {
      expect(await summary(1)).toEqual({
        window: {
          from: new Date(NOW.getTime() + 2 * DAY - HOUR).toISOString(),
          to: new Date(NOW.getTime() + 2 * DAY).toISOString(),
          hours: 1,
        },
        totals: { total: 0, successes: 0, failures: 0, successRate: null },
        operations: [],
        failuresByReason: [],
        keyGeneration: { total: 0, successes: 0, failures: 0, successRate: null, failureRate: null },
        devices: { active: 0, top: [], rateLimitedCount: 0, rateLimited: [] },
        credentialChecks: [],
        problematicKeys: { minFailures: 3, minFailureRate: 0.3, count: 0, keys: [] },
        keys: keyStatesByRules(new Date(NOW.getTime() + 2 * DAY)),
      });
    } finally {
      t.clock.set(NOW);
    }
  });

  // The percentile arithmetic itself is compared with PostgreSQL's percentile_cont in the
  // repository tier (src/telemetry/metric-events.repository.repo-spec.ts).

  it('takes 1 to 720 hours; anything else is BAD_USER_INPUT', async () => {
    expect((await summary(720)).window.hours).toBe(720);
    expect((await summary(1)).window.hours).toBe(1);
    for (const hours of [0, 721, -5]) {
      const response = await t.gql(
        `query Summary($hours: Int) { getEncryptionMetricsSummary(timeframeHours: $hours) }`,
        { hours },
        t.as('ops'),
      );
      expect(errorCode(response)).toBe('BAD_USER_INPUT');
      const typed = await t.gql(TYPED_QUERY, { hours }, t.as('ops'));
      expect(errorCode(typed)).toBe('BAD_USER_INPUT');
    }
    expect(errorCode(await t.gql('query { getEncryptionMetricsSummary(timeframeHours: 1.5) }', undefined, t.as('ops'))))
      .toBe('BAD_USER_INPUT');
  });

  it('takes null or no argument as the default 24 hours (the contract: Int = 24)', async () => {
    for (const [query, variables] of [
      ['query { getEncryptionMetricsSummary }', undefined],
      ['query { getEncryptionMetricsSummary(timeframeHours: null) }', undefined],
      ['query Summary($hours: Int) { getEncryptionMetricsSummary(timeframeHours: $hours) }', { hours: null }],
    ] as const) {
      const response = await t.gql(query, variables, t.as('ops'));
      expect(response.errors).toBeUndefined();
      expect(response.data!.getEncryptionMetricsSummary.window.hours).toBe(24);
    }
  });

  it('matches the shape documented in the README', async () => {
    const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Metrics'));
    const example = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(section)![1]);
    expect(shapeOf(await summary())).toEqual(shapeOf(example));
  });
});

/** The key counts as src/keys/key-lifecycle.ts classifies KEYS at `now`. */
function keyStatesByRules(now: Date) {
  const counts = { active: 0, deprecated: 0, revoked: 0, awaitingDeletion: 0 };
  for (const key of KEYS) {
    if (isPastRetention(key, now, 90)) counts.awaitingDeletion += 1;
    else counts[keyStatus(key, now).toLowerCase() as 'active' | 'deprecated' | 'revoked'] += 1;
  }
  return counts;
}

/** Field names and value kinds, recursively (an array by its first element). */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.length > 0 ? [shapeOf(value[0])] : [];
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shapeOf(inner)]));
  }
  return typeof value;
}
