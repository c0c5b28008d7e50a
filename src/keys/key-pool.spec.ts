import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../config';
import { Clock } from '../common';
import type { MetricsRecorder } from '../telemetry';
import { BackgroundKeyGenerator } from './crypto/background-key-generator';
import { MasterKeyRing } from './crypto/master-key-ring';
import { hasSpareCapacity, KeyPool, MAKE_PAIR_TIMEOUT_MS, SPARE_CAPACITY } from './key-pool';
import type { KeysRepository } from './keys.repository';

describe('hasSpareCapacity (when the refill may start a key pair)', () => {
  const idle = { operationsRunning: 0, msSinceLastOperation: 1_000, eventLoopUtilization: 0.05 };

  it('says yes when nothing runs, nothing just finished and the event loop is mostly idle', () => {
    expect(hasSpareCapacity(idle)).toBe(true);
    expect(hasSpareCapacity({ ...idle, msSinceLastOperation: SPARE_CAPACITY.quietMs })).toBe(true);
  });

  it.each([
    ['a request is being served', { operationsRunning: 1 }],
    ['one just finished (a burst is under way)', { msSinceLastOperation: SPARE_CAPACITY.quietMs - 1 }],
    ['the event loop is busy with something unmeasured', { eventLoopUtilization: SPARE_CAPACITY.maxEventLoopUtilization }],
  ])('says no when %s', (_case, busy) => {
    expect(hasSpareCapacity({ ...idle, ...busy })).toBe(false);
  });
});

describe('KeyPool.refillStep', () => {
  const config = loadConfig({ NODE_ENV: 'test', KEY_POOL_SIZE: '4', KEY_POOL_REFILL_BELOW: '2' });
  const ring = new MasterKeyRing([{ id: 'k', key: Buffer.alloc(32, 7) }]);

  // The event loop as idle as the test says (jest's own loop is anything but).
  beforeEach(() => jest.spyOn(performance, 'eventLoopUtilization').mockReturnValue({ idle: 1, active: 0, utilization: 0 }));
  afterEach(() => jest.restoreAllMocks());

  function pool(activity: { running: number; lastFinishedAt: number }, count: number) {
    const refillTurn = jest.fn(async (_staleUpTo: Date, wanted: (count: number) => boolean) => ({
      turn: true as const,
      discarded: 0,
      count,
      added: wanted(count),
    }));
    const keys = { refillTurn } as unknown as KeysRepository;
    const recorder = { activity } as unknown as MetricsRecorder;
    return { pool: new KeyPool(config, keys, ring, new Clock(), recorder), refillTurn };
  }

  it('does not touch the pool while a request runs, and looks again soon', async () => {
    const { pool: busy, refillTurn } = pool({ running: 1, lastFinishedAt: -Infinity }, 0);
    expect(await busy.refillStep()).toBeLessThanOrEqual(100);
    expect(refillTurn).not.toHaveBeenCalled();
  });

  it('waits for a lull after the last request', async () => {
    const { pool: justBusy, refillTurn } = pool({ running: 0, lastFinishedAt: performance.now() }, 0);
    await justBusy.refillStep();
    expect(refillTurn).not.toHaveBeenCalled();
  });

  it('takes a turn when idle, starts below KEY_POOL_REFILL_BELOW and fills up to KEY_POOL_SIZE', async () => {
    const quiet = { running: 0, lastFinishedAt: -Infinity };
    // 3 left, not below 2: no refill yet.
    const { pool: atThree } = pool(quiet, 3);
    expect(await atThree.refillStep()).toBeGreaterThan(1_000);
    const { pool: atOne, refillTurn } = pool(quiet, 1);
    expect(await atOne.refillStep()).toBe(0); // added one: go on at once
    const wanted = refillTurn.mock.calls[0][1];
    // Once filling, it goes on past the threshold up to the size.
    expect([1, 2, 3, 4].map((count) => wanted(count))).toEqual([true, true, true, false]);
  });
});

describe('KeyPool, a pair that takes too long', () => {
  it('is abandoned after MAKE_PAIR_TIMEOUT_MS: the thread ends and the turn fails (rolls back)', async () => {
    jest.useFakeTimers();
    try {
      const config = loadConfig({ NODE_ENV: 'test', KEY_POOL_SIZE: '4', KEY_POOL_REFILL_BELOW: '4' });
      let rejectPending!: (error: Error) => void;
      const generator = {
        generate: () => new Promise((_resolve, reject) => (rejectPending = reject)),
        close: jest.fn(async () => rejectPending(new Error('key generator closed'))),
      };
      const keys = {
        refillTurn: async (_stale: Date, _wanted: unknown, make: () => Promise<unknown>) => ({ added: await make() }),
      } as unknown as KeysRepository;
      const recorder = { activity: { running: 0, lastFinishedAt: -Infinity } } as unknown as MetricsRecorder;
      const pool = new KeyPool(config, keys, new MasterKeyRing([{ id: 'k', key: Buffer.alloc(32) }]), new Clock(), recorder);
      Object.assign(pool, { generator });
      jest.spyOn(performance, 'eventLoopUtilization').mockReturnValue({ idle: 1, active: 0, utilization: 0 });
      const step = pool.refillStep();
      step.catch(() => undefined);
      await jest.advanceTimersByTimeAsync(MAKE_PAIR_TIMEOUT_MS - 1);
      expect(generator.close).not.toHaveBeenCalled();
      await jest.advanceTimersByTimeAsync(1);
      await expect(step).rejects.toThrow(`no key pair made in ${MAKE_PAIR_TIMEOUT_MS} ms`);
      expect(generator.close).toHaveBeenCalled();
    } finally {
      jest.useRealTimers();
      jest.restoreAllMocks();
    }
  });
});

describe('BackgroundKeyGenerator', () => {
  const generator = new BackgroundKeyGenerator();
  afterAll(() => generator.close());

  it('makes RSA-2048 pairs (SPKI PEM, PKCS#8 DER) that belong together, one at a time', async () => {
    const first = generator.generate();
    await expect(generator.generate()).rejects.toThrow('already being made');
    const { publicKeyPem, privateKeyDer } = await first;
    const privateKey = createPrivateKey({ key: privateKeyDer, format: 'der', type: 'pkcs8' });
    expect(privateKey.asymmetricKeyDetails).toMatchObject({ modulusLength: 2048, publicExponent: 65537n });
    expect(createPublicKey(privateKey).export({ type: 'spki', format: 'pem' })).toBe(publicKeyPem);
  });

  // Linux: niceness is per thread; /proc/self/task/<tid>/stat field 19 is each thread's.
  (process.platform === 'linux' ? it : it.skip)('runs on a thread of its own at nice 19, the rest of the process unchanged', async () => {
    const niceness = () =>
      readdirSync('/proc/self/task').map((tid) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[16]));
    await generator.generate();
    const values = niceness();
    expect(values.filter((nice) => nice === 19)).toHaveLength(1);
    expect(values.filter((nice) => nice !== 19).every((nice) => nice === values.find((n) => n !== 19))).toBe(true);
    await generator.close();
    expect(niceness().filter((nice) => nice === 19)).toHaveLength(0);
  });
});
