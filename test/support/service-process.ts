import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');
/** Enough for every assertion on start-up output; a long benchmark run does not pile up. */
const MAX_KEPT_OUTPUT = 256 * 1024;

export interface ServiceProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the HTTP port once the service logs that it serves. */
  serving: Promise<number>;
  exited: Promise<number | null>;
}

/**
 * The real entry point (src/main.ts, compiled on the fly by @swc-node) as a child
 * process, with only the environment given (plus PATH and HOME), in this checkout
 * or in `cwd` (a copy of it).
 */
export function startServiceProcess(env: Record<string, string>, nodeArgs: string[] = [], cwd = ROOT): ServiceProcess {
  const child = spawn(process.execPath, [...nodeArgs, '-r', '@swc-node/register', 'src/main.ts'], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const serving = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out = (out + chunk.toString()).slice(-MAX_KEPT_OUTPUT);
      const match = /"port":(\d+),"url":"[^"]*","msg":"serving GraphQL"/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    void exited.then((code) => reject(new Error(`service exited with ${code}: ${err}`)));
  });
  serving.catch(() => undefined);
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return { child, stdout: () => out, stderr: () => err, serving, exited };
}

/** SIGTERM, then the exit code. */
export async function stopServiceProcess(service: ServiceProcess): Promise<number | null> {
  service.child.kill('SIGTERM');
  return service.exited;
}

/** One anonymous GraphQL request to a service process on `port`: the whole response. */
export async function graphqlOnPort(port: number, query: string, variables?: object) {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: any[] };
}
