import { PassThrough } from 'node:stream';
import { loadConfig } from './config';
import { forwardLines, threadPoolSize, workerEnvironment } from './cluster';

describe('the cluster primary', () => {
  it("shares the CPUs out as libuv threads, at least 2 per process, unless UV_THREADPOOL_SIZE is set", () => {
    expect(threadPoolSize(2, 1)).toBe(2);
    expect(threadPoolSize(2, 2)).toBe(2);
    expect(threadPoolSize(8, 2)).toBe(4);
    expect(threadPoolSize(8, 8)).toBe(2);
    expect(threadPoolSize(16, 1)).toBe(16);
    const config = loadConfig({ WEB_CONCURRENCY: '2' }, { stdoutIsTerminal: true, cpus: 8 });
    const saved = process.env.UV_THREADPOOL_SIZE;
    try {
      delete process.env.UV_THREADPOOL_SIZE;
      expect(workerEnvironment(config, 'postgresql://db/kms', 8)).toEqual({
        DATABASE_URL: 'postgresql://db/kms',
        WEB_CONCURRENCY: '2',
        LOG_FORMAT: 'pretty', // the primary's terminal, which the workers cannot see
        UV_THREADPOOL_SIZE: '4',
      });
      process.env.UV_THREADPOOL_SIZE = '6';
      expect(workerEnvironment(config, 'postgresql://db/kms', 8).UV_THREADPOOL_SIZE).toBe('6');
    } finally {
      if (saved === undefined) delete process.env.UV_THREADPOOL_SIZE;
      else process.env.UV_THREADPOOL_SIZE = saved;
    }
  });

  it('forwards whole lines only, whatever the chunks', async () => {
    const from = new PassThrough();
    const to = new PassThrough();
    const writes: string[] = [];
    to.on('data', (chunk: Buffer) => writes.push(chunk.toString()));
    forwardLines(from, to);
    for (const chunk of ['{"a":', '1}\n{"b"', ':2}\n{"c":3}\n{"d', '":4}']) from.write(chunk);
    from.end();
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes.every((write) => write.endsWith('\n'))).toBe(true);
    expect(writes.join('')).toBe('{"a":1}\n{"b":2}\n{"c":3}\n{"d":4}\n');
  });
});
