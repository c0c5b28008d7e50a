import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { encryptWithWebCrypto } from '../support/clients';
import { DECRYPT_DATA, GENERATE_KEY } from '../support/operations';
import { rememberSecret } from '../support/secrets-ledger';
import { ServiceProcess, startServiceProcess, stopServiceProcess } from '../support/service-process';
import { createTestDatabase, TestDatabase } from '../support/test-database';
import { onServer } from '../support/test-server';

const TYPENAME = JSON.stringify({ query: '{ __typename }' });

/** POST /graphql (GET `path` without a body) on a new connection each time, so that the cluster spreads them. */
function postOnNewConnection(port: number, body: string | undefined, headers: Record<string, string> = {}, path = '/graphql') {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: body === undefined ? 'GET' : 'POST',
        agent: false,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.end(body);
  });
}

const rawRequest = (body: string) =>
  `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** A kept-alive connection that has been answered once, and can send again. */
async function keptAliveConnection(port: number) {
  const socket: Socket = connect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  let failure: Error | undefined;
  socket.on('data', (chunk) => (received += chunk.toString()));
  socket.on('error', (error) => (failure = error));
  const answer = async (body: string) => {
    const start = received.length;
    socket.write(rawRequest(body));
    for (let waited = 0; waited < 5_000; waited += 5) {
      if (failure) throw failure;
      const text = received.slice(start);
      const headEnd = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      if (headEnd >= 0 && length && text.length >= headEnd + 4 + Number(length)) return text;
      if (socket.readableEnded && text.length === 0) throw new Error('connection closed without an answer');
      await sleep(5);
    }
    throw new Error('no answer within 5 s');
  };
  expect(await answer(TYPENAME)).toMatch(/^HTTP\/1\.1 200/);
  return { answer, socket };
}

describe('the service with several worker processes', () => {
  let database: TestDatabase;
  let dataDir: string;
  const adminKey = `cluster-admin-${randomBytes(24).toString('base64url')}`;
  rememberSecret(adminKey);
  const env = () => ({ DATABASE_URL: database.url, PORT: '0', DATA_DIR: dataDir, KMS_BOOTSTRAP_ADMIN_KEY: adminKey });

  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'kms-cluster-'));
  });
  afterAll(async () => {
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const requestLines = (service: ServiceProcess) =>
    service.stdout().split('\n').filter((line) => line.includes('"msg":"request completed"')).map((line) => JSON.parse(line));

  it('spreads requests over WEB_CONCURRENCY workers, one request line each, and stops cleanly', async () => {
    const service = startServiceProcess({ ...env(), WEB_CONCURRENCY: '2' });
    try {
      const port = await service.serving;
      expect(service.stdout()).toMatch(/"workers":2,"port":\d+/);
      const answers = await Promise.all(Array.from({ length: 20 }, () => postOnNewConnection(port, TYPENAME)));
      expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
      await sleep(300);
      const lines = requestLines(service);
      expect(lines).toHaveLength(20);
      expect(new Set(lines.map((line) => line.worker))).toEqual(new Set([1, 2]));
    } finally {
      expect(await stopServiceProcess(service)).toBe(0);
    }
    expect(service.stdout()).toMatch(/"name":"bootstrap","code":0,"msg":"stopped"/);
    expect(service.stdout().match(/"name":"worker","code":0,"msg":"stopped"/g)).toHaveLength(2);
  });

  it('serves from the first process alone with WEB_CONCURRENCY=1 (for a debugger)', async () => {
    const service = startServiceProcess({ ...env(), WEB_CONCURRENCY: '1' });
    try {
      const port = await service.serving;
      expect(service.stdout()).toMatch(/"workers":1,"port":\d+/);
      expect((await postOnNewConnection(port, TYPENAME)).status).toBe(200);
      await sleep(200);
      const [line] = requestLines(service);
      expect(line.worker).toBeUndefined();
      expect(line.pid).toBeUndefined();
    } finally {
      expect(await stopServiceProcess(service)).toBe(0);
    }
  });

  it('shows one Prometheus view whichever worker answers the scrape, with kms_keys counted once; writes every count at shutdown', async () => {
    // Nothing is written before shutdown (the flush interval is longer than the test).
    const service = startServiceProcess({ ...env(), WEB_CONCURRENCY: '2', METRICS_FLUSH_INTERVAL_MS: '60000' });
    try {
      const port = await service.serving;
      const admin = { authorization: `Bearer ${adminKey}` };
      const created = await postOnNewConnection(
        port,
        JSON.stringify({
          query: 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
          variables: { input: { name: 'cluster-ops', scopes: ['ops', 'service'] } },
        }),
        admin,
      );
      const opsKey = JSON.parse(created.body).data.createApiKey.key as string;
      rememberSecret(opsKey);
      const generated = await postOnNewConnection(port, JSON.stringify({ query: GENERATE_KEY, variables: { input: { deviceId: 'cluster-device' } } }));
      const key = JSON.parse(generated.body).data.generateEncryptionKey;
      const decrypts = 12;
      const answers = await Promise.all(
        Array.from({ length: decrypts }, async () =>
          postOnNewConnection(
            port,
            JSON.stringify({ query: DECRYPT_DATA, variables: { input: { keyId: key.keyId, encryptedData: await encryptWithWebCrypto(key.publicKey, 'x') } } }),
            { authorization: `Bearer ${opsKey}` },
          ),
        ),
      );
      expect(answers.every((answer) => answer.status === 200 && !answer.body.includes('errors'))).toBe(true);

      const series = (text: string, name: string) =>
        text.split('\n').filter((line) => line.startsWith(name)).map((line) => line.trim());
      const scrapes: string[] = [];
      for (let i = 0; i < 4; i += 1) {
        const response = await postOnNewConnection(port, undefined, { authorization: `Bearer ${opsKey}` }, '/metrics');
        expect(response.status).toBe(200);
        scrapes.push(response.body);
      }
      for (const text of scrapes) {
        expect(series(text, 'kms_operations_total{operation="decrypt"')).toEqual([`kms_operations_total{operation="decrypt",outcome="success"} ${decrypts}`]);
        expect(series(text, 'kms_keys{state="active"}')).toEqual(['kms_keys{state="active"} 1']);
      }
      // Both workers decrypted: the counts above are their sum.
      await sleep(200);
      const decrypters = requestLines(service).filter((line) => line.operation === 'Decrypt').map((line) => line.worker);
      expect(new Set(decrypters)).toEqual(new Set([1, 2]));
      expect(await onServer(database.url, (client) => client.query(`SELECT 1 FROM "EncryptionMetric" WHERE operation = 'decrypt'`))).toMatchObject({ rowCount: 0 });

      expect(await stopServiceProcess(service)).toBe(0);
      // Each worker wrote its metric rows and key-usage counts before the process ended.
      const metricRows = await onServer(database.url, (client) =>
        client.query(`SELECT count(*)::int AS n FROM "EncryptionMetric" WHERE operation = 'decrypt' AND status = 'success'`));
      expect(metricRows.rows[0].n).toBe(decrypts);
      const usage = await onServer(database.url, (client) =>
        client.query(`SELECT "usageCount" FROM "ClientEncryptionKey" WHERE id = $1`, [key.keyId]));
      expect(usage.rows[0].usageCount).toBe(decrypts);
    } finally {
      if (service.child.exitCode === null) await stopServiceProcess(service);
    }
  });

  /** The node workers (src/main.ts) among a service's children. */
  const nodeWorkersOf = (service: ServiceProcess) =>
    execFileSync('pgrep', ['-P', String(service.child.pid)]).toString().trim().split('\n').map(Number)
      .filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('src/main.ts'));
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const gone = async (pids: number[], withinMs: number) => {
    for (let waited = 0; pids.some(alive) && waited < withinMs; waited += 50) await sleep(50);
    return pids.filter(alive);
  };

  it('replaces a worker that dies, and keeps serving meanwhile', async () => {
    const service = startServiceProcess({ ...env(), WEB_CONCURRENCY: '2' });
    try {
      const port = await service.serving;
      expect((await postOnNewConnection(port, TYPENAME)).status).toBe(200);
      const nodeWorkers = nodeWorkersOf(service);
      expect(nodeWorkers).toHaveLength(2);
      process.kill(nodeWorkers[0], 'SIGKILL');
      const logged = async (message: string) => {
        for (let waited = 0; !service.stdout().includes(`"msg":"${message}"`) && waited < 15_000; waited += 50) await sleep(50);
        expect(service.stdout()).toContain(`"msg":"${message}"`);
      };
      // Once the primary knows (a connection handed over at the very moment of death is lost with it) ...
      await logged('worker died: replacing it');
      for (let i = 0; i < 6; i += 1) expect((await postOnNewConnection(port, TYPENAME)).status).toBe(200);
      // ... and a new worker takes its place.
      await logged('worker replaced');
      const answers = await Promise.all(Array.from({ length: 10 }, () => postOnNewConnection(port, TYPENAME)));
      expect(answers.every((answer) => answer.status === 200)).toBe(true);
    } finally {
      expect(await stopServiceProcess(service)).toBe(0);
    }
  });

  // A worker's log lines go to the primary through a pipe. With the primary dead, the
  // worker's exit flushed its log buffer into that broken pipe and retried forever
  // (sonic-boom 4 slept and retried on every write error, EPIPE included): an orphan
  // that held its database connections and ignored SIGTERM.
  it('workers exit when the primary is killed', async () => {
    const service = startServiceProcess({ ...env(), WEB_CONCURRENCY: '2' });
    let workers: number[] = [];
    try {
      const port = await service.serving;
      workers = nodeWorkersOf(service);
      expect(workers).toHaveLength(2);
      // Killed within the 100 ms a worker keeps its last log lines: they are still to write.
      const answers = await Promise.all(Array.from({ length: 8 }, () => postOnNewConnection(port, TYPENAME)));
      service.child.kill('SIGKILL');
      expect(answers.map((answer) => answer.status)).toEqual(Array(8).fill(200));
      await service.exited;
      expect(await gone(workers, 10_000)).toEqual([]);
    } finally {
      for (const pid of workers.filter(alive)) process.kill(pid, 'SIGKILL');
    }
  });

  it('stops on SIGTERM when whoever read its stdout has gone', async () => {
    const service = startServiceProcess({ ...env(), WEB_CONCURRENCY: '1' });
    try {
      const port = await service.serving;
      service.child.stdout!.destroy();
      // Lines still to write (one per request) into the broken pipe when the signal comes.
      const answers = await Promise.all(Array.from({ length: 8 }, () => postOnNewConnection(port, TYPENAME)));
      service.child.kill('SIGTERM');
      expect(answers.map((answer) => answer.status)).toEqual(Array(8).fill(200));
      const code = await Promise.race([service.exited, sleep(20_000, 'still running')]);
      expect(code).not.toBe('still running');
    } finally {
      if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL');
    }
  });

  it.each([1, 2])('answers requests sent on kept-alive connections right after SIGTERM (WEB_CONCURRENCY=%i)', async (workers) => {
    const service = startServiceProcess({ ...env(), WEB_CONCURRENCY: String(workers) });
    const port = await service.serving;
    const connections = await Promise.all(Array.from({ length: 8 }, () => keptAliveConnection(port)));

    service.child.kill('SIGTERM');
    // Sent 0 to 70 ms after the signal, on connections the server holds idle.
    const answers = await Promise.all(
      connections.map(async (connection, i) => {
        await sleep(i * 10);
        return connection.answer(TYPENAME).catch((error: Error) => `failed: ${error.message}`);
      }),
    );
    for (const answer of answers) {
      expect(answer).toMatch(/^HTTP\/1\.1 200/);
      expect(answer).toContain('"__typename":"Query"');
    }
    // Those answered once draining had begun say so (the first may come before the signal lands).
    expect(answers.filter((answer) => /\r\nconnection: close\r\n/i.test(answer)).length).toBeGreaterThan(0);
    expect(await service.exited).toBe(0);
    for (const { socket } of connections) socket.destroy();
  });
});
