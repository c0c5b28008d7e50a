import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface DemoBackend {
  url: string;
  /** What it printed: one line per request. */
  output(): string;
  stop(): Promise<void>;
}

/** examples/web-demo/backend.mjs as a developer runs it, on a free port. */
export async function startDemoBackend(env: {
  KMS_URL: string;
  KMS_SERVICE_KEY: string;
  PAGE_ORIGINS: string;
}): Promise<DemoBackend> {
  const script = join(__dirname, '..', '..', 'examples', 'web-demo', 'backend.mjs');
  const child: ChildProcess = spawn(process.execPath, [script], {
    env: { PATH: process.env.PATH, ...env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo backend did not start: ${output}`)), 10_000);
    child.stdout!.on('data', () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`demo backend exited (${code}): ${output}`)));
  });
  return {
    url,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.on('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
