import { Logger } from '@nestjs/common';
import { Clock, ErrorCode, KmsError } from '../common';
import { loadConfig } from '../config';
import { tagOperation } from './measured';
import type { MetricEvent } from './metric-event';
import type { MetricEventsRepository } from './metric-events.repository';
import { MetricsRecorder } from './metrics.recorder';

/** A repository whose writes the test completes or fails by hand. */
class FakeRepository {
  written: MetricEvent[] = [];
  calls = 0;
  concurrent = 0;
  maxConcurrent = 0;
  down = false;
  private gates: (() => void)[] = [];
  holding = false;

  async insertMany(events: MetricEvent[]) {
    this.calls += 1;
    this.concurrent += 1;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    try {
      if (this.holding) await new Promise<void>((resolve) => this.gates.push(resolve));
      if (this.down) throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
      this.written.push(...events);
    } finally {
      this.concurrent -= 1;
    }
  }

  release() {
    this.holding = false;
    for (const open of this.gates.splice(0)) open();
  }
}

const event = (n: number): MetricEvent => ({
  operation: 'encrypt',
  status: 'success',
  duration: n,
  timestamp: new Date(1_700_000_000_000 + n),
});

function recorderWith(env: Record<string, string> = {}) {
  const repository = new FakeRepository();
  const config = loadConfig({ METRICS_FLUSH_INTERVAL_MS: '60000', ...env });
  const recorder = new MetricsRecorder(config, repository as unknown as MetricEventsRepository, new Clock());
  return { recorder, repository };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('MetricsRecorder', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('buffers rows and writes a batch when METRICS_BATCH_SIZE are waiting', async () => {
    const { recorder, repository } = recorderWith({ METRICS_BATCH_SIZE: '3' });
    recorder.record(event(1));
    recorder.record(event(2));
    await tick();
    expect(repository.calls).toBe(0);
    expect(recorder.depth).toBe(2);
    recorder.record(event(3));
    await tick();
    expect(repository.written.map((row) => row.duration)).toEqual([1, 2, 3]);
    expect(recorder.depth).toBe(0);
  });

  it('writes on the flush interval', async () => {
    jest.useFakeTimers();
    try {
      const { recorder, repository } = recorderWith({ METRICS_FLUSH_INTERVAL_MS: '1000' });
      recorder.onModuleInit();
      recorder.record(event(1));
      await jest.advanceTimersByTimeAsync(999);
      expect(repository.calls).toBe(0);
      await jest.advanceTimersByTimeAsync(1);
      expect(repository.written).toHaveLength(1);
      await recorder.beforeApplicationShutdown();
    } finally {
      jest.useRealTimers();
    }
  });

  it('runs one write at a time, and a flush during a write also writes what came after', async () => {
    const { recorder, repository } = recorderWith({ METRICS_BATCH_SIZE: '2' });
    repository.holding = true;
    for (let n = 1; n <= 9; n += 1) recorder.record(event(n));
    const flushes = [recorder.flush(), recorder.flush()];
    recorder.record(event(10));
    const late = recorder.flush();
    await tick();
    expect(repository.concurrent).toBe(1);
    repository.release();
    repository.holding = false;
    await Promise.all([...flushes, late]);
    expect(repository.maxConcurrent).toBe(1);
    expect(repository.written.map((row) => row.duration)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(recorder.depth).toBe(0);
  });

  it('leaves rows recorded during a write for the next trigger: no small INSERT chasing each request', async () => {
    const { recorder, repository } = recorderWith({ METRICS_BATCH_SIZE: '100' });
    repository.holding = true;
    recorder.record(event(1));
    const flushed = recorder.flush();
    // Steady load: a few rows arrive during every write.
    for (let n = 2; n <= 4; n += 1) recorder.record(event(n));
    repository.release();
    await flushed;
    expect(repository.calls).toBe(1);
    expect(repository.written.map((row) => row.duration)).toEqual([1]);
    expect(recorder.depth).toBe(3);
    await recorder.flush();
    expect(repository.calls).toBe(2);
    expect(repository.written.map((row) => row.duration)).toEqual([1, 2, 3, 4]);
  });

  it('keeps rows through a database outage and writes them, in order, when it is back', async () => {
    const { recorder, repository } = recorderWith({ METRICS_BATCH_SIZE: '2' });
    repository.down = true;
    recorder.record(event(1));
    recorder.record(event(2));
    await tick();
    expect(repository.calls).toBe(1);
    // The retry pause holds back batch-size writes: no write per request while down.
    recorder.record(event(3));
    recorder.record(event(4));
    await tick();
    expect(repository.calls).toBe(1);
    expect(recorder.depth).toBe(4);
    expect(recorder.writeFailures).toBe(1);
    expect(recorder.dropped).toBe(0);

    repository.down = false;
    await recorder.flush();
    expect(repository.written.map((row) => row.duration)).toEqual([1, 2, 3, 4]);
    expect(recorder.depth).toBe(0);
  });

  it('drops and counts new rows when the buffer is full; observers still see them', async () => {
    const { recorder, repository } = recorderWith({ METRICS_BATCH_SIZE: '1000', METRICS_BUFFER_MAX: '100' });
    const seen: MetricEvent[] = [];
    recorder.onEvent((observed) => seen.push(observed));
    for (let n = 1; n <= 150; n += 1) recorder.record(event(n));
    expect(recorder.depth).toBe(100);
    expect(recorder.dropped).toBe(50);
    expect(seen).toHaveLength(150);
    await recorder.flush();
    expect(repository.written.map((row) => row.duration)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
  });

  it('counts the batch being written against the bound', async () => {
    const { recorder, repository } = recorderWith({ METRICS_BATCH_SIZE: '100', METRICS_BUFFER_MAX: '150' });
    repository.holding = true;
    for (let n = 1; n <= 100; n += 1) recorder.record(event(n));
    await tick();
    expect(repository.concurrent).toBe(1);
    for (let n = 101; n <= 200; n += 1) recorder.record(event(n));
    expect(recorder.depth).toBe(150);
    expect(recorder.dropped).toBe(50);
    repository.release();
    await recorder.flush();
    expect(repository.written).toHaveLength(150);
  });

  it('flushes at shutdown, writes rows recorded while closing at once, and counts what is lost', async () => {
    const { recorder, repository } = recorderWith();
    recorder.record(event(1));
    await recorder.beforeApplicationShutdown();
    expect(repository.written).toHaveLength(1);

    recorder.record(event(2));
    await tick();
    expect(repository.written).toHaveLength(2);

    repository.down = true;
    recorder.record(event(3));
    await recorder.onApplicationShutdown();
    expect(recorder.dropped).toBe(1);
    expect(recorder.depth).toBe(0);
    recorder.record(event(4));
    expect(recorder.dropped).toBe(2);
    expect(repository.written).toHaveLength(2);
  });

  it('measures success and failure with the error code as reason and the internal reason as detail', async () => {
    const { recorder, repository } = recorderWith();
    await recorder.measure('decrypt', { keyId: 'k1' }, async () => {
      tagOperation({ deviceId: 'd1' });
      return 'ok';
    });
    await expect(
      recorder.measure('decrypt', {}, async () => {
        throw new KmsError(ErrorCode.KEY_REVOKED, 'revoked', { reason: 'device-key-revoked' });
      }),
    ).rejects.toThrow('revoked');
    await expect(recorder.measure('decrypt', {}, async () => Promise.reject(new TypeError('boom')))).rejects.toThrow();
    await recorder.flush();
    const rows = repository.written.map(({ status, errorReason, errorDetail, keyId, deviceId }) => ({
      status, errorReason, errorDetail, keyId, deviceId,
    }));
    expect(rows).toEqual([
      { status: 'success', errorReason: null, errorDetail: null, keyId: 'k1', deviceId: 'd1' },
      { status: 'failure', errorReason: 'KEY_REVOKED', errorDetail: 'device-key-revoked', keyId: null, deviceId: null },
      { status: 'failure', errorReason: 'INTERNAL', errorDetail: 'TypeError', keyId: null, deviceId: null },
    ]);
  });

  it('records an operation that returns after tagging a refusal as a failure with that code and reason', async () => {
    const { recorder, repository } = recorderWith();
    const answer = await recorder.measure('verifyPasscode', { keyId: 'k1' }, async () => {
      tagOperation({ refusal: { code: 'CREDENTIAL_INVALID', reason: 'credential-invalid' } });
      return { valid: false };
    });
    await recorder.measure('verifyPasscode', { keyId: 'k1' }, async () => ({ valid: true }));
    await recorder.flush();
    expect(answer).toEqual({ valid: false });
    expect(repository.written.map(({ status, errorReason, errorDetail }) => ({ status, errorReason, errorDetail }))).toEqual([
      { status: 'failure', errorReason: 'CREDENTIAL_INVALID', errorDetail: 'credential-invalid' },
      { status: 'success', errorReason: null, errorDetail: null },
    ]);
  });

  it('tells how many operations run now and when the last one finished, failures included', async () => {
    const { recorder } = recorderWith();
    expect(recorder.activity).toEqual({ running: 0, lastFinishedAt: -Infinity });
    let finish!: () => void;
    const first = recorder.measure('decrypt', {}, () => new Promise<void>((resolve) => (finish = resolve)));
    const second = recorder.measure('encrypt', {}, () => Promise.reject(new TypeError('boom')));
    await expect(second).rejects.toThrow();
    expect(recorder.activity.running).toBe(1);
    const failedAt = recorder.activity.lastFinishedAt;
    expect(failedAt).toBeGreaterThan(0);
    finish();
    await first;
    expect(recorder.activity.running).toBe(0);
    expect(recorder.activity.lastFinishedAt).toBeGreaterThanOrEqual(failedAt);
  });

  it('gives nested operations tag scopes of their own: the inner tags do not reach the outer row', async () => {
    const { recorder, repository } = recorderWith();
    await recorder.measure('rotate', { deviceId: 'd1' }, async () => {
      await recorder.measure('generate', { deviceId: 'd1' }, async () => tagOperation({ keyId: 'new-key' }));
      tagOperation({ keyId: 'rotated-to' });
    });
    tagOperation({ keyId: 'outside any operation' });
    await recorder.flush();
    expect(repository.written.map(({ operation, keyId }) => ({ operation, keyId }))).toEqual([
      { operation: 'generate', keyId: 'new-key' },
      { operation: 'rotate', keyId: 'rotated-to' },
    ]);
  });

  it('keeps a NUL byte or an oversized id from poisoning a batch, and survives a failing observer', async () => {
    const { recorder, repository } = recorderWith();
    recorder.onEvent(() => {
      throw new Error('observer bug');
    });
    recorder.record({ ...event(1), keyId: 'a\0b', deviceId: 'x'.repeat(10_000) });
    await recorder.flush();
    expect(repository.written[0].keyId).toBe('a\uFFFDb');
    expect(repository.written[0].deviceId).toHaveLength(256);
  });
});
