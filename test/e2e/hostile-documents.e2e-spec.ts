import { hostileDocuments, tokenCount } from '../support/hostile-documents';
import { startServiceProcess, ServiceProcess } from '../support/service-process';
import { testEnvironment } from '../support/test-app';
import { createTestDatabase, TestDatabase } from '../support/test-database';

/**
 * Documents built to make validation explode, sent anonymously to the real service
 * (a child process, so that a frozen event loop there cannot freeze this test), while
 * /health is polled. Each must be answered fast and /health must keep answering.
 * Bounds are generous (the machine is shared); the fault they catch took minutes.
 */
const ANSWER_BOUND_MS = 3000;
const HEALTH_BOUND_MS = 1500;
const ROUNDS = 3;

describe('hostile GraphQL documents', () => {
  let database: TestDatabase;
  let service: ServiceProcess;
  let baseUrl: string;
  beforeAll(async () => {
    database = await createTestDatabase();
    const env = testEnvironment({ DATABASE_URL: database.url, PORT: '0', LOG_FORMAT: 'json' });
    delete env.LOG_FILE; // the child's stdout carries the line that tells its port
    service = startServiceProcess(env);
    baseUrl = `http://127.0.0.1:${await service.serving}`;
  });
  afterAll(async () => {
    service?.child.kill('SIGKILL'); // a frozen process would not handle SIGTERM
    await service?.exited;
    await database?.drop();
  });

  const post = async (query: string) => {
    const started = performance.now();
    const response = await fetch(`${baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
      signal: AbortSignal.timeout(ANSWER_BOUND_MS * 3),
    });
    const body = (await response.json()) as { data?: unknown; errors?: { message: string; extensions: { code: string } }[] };
    return { status: response.status, body, ms: performance.now() - started };
  };

  /** Polls GET /health every 25 ms until `stop` resolves; the slowest answer, in ms. */
  async function slowestHealthWhile(stop: Promise<unknown>): Promise<number> {
    let done = false;
    void stop.finally(() => (done = true));
    let slowest = 0;
    while (!done) {
      const started = performance.now();
      const response = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(HEALTH_BOUND_MS * 3) });
      expect(response.status).toBe(200);
      slowest = Math.max(slowest, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return slowest;
  }

  it('are each refused (or answered) fast, while /health stays responsive', async () => {
    const documents = hostileDocuments(40);
    // Each one fits in the default REQUEST_BODY_LIMIT_BYTES: nothing but GraphQL refuses them.
    for (const document of documents) {
      expect(Buffer.byteLength(JSON.stringify({ query: document.query }))).toBeLessThan(65_536);
      // ... and, but for the one that tests it, the token limit: they reach validation.
      if (document.name !== 'too many tokens') expect([document.name, tokenCount(document.query) <= 1000]).toEqual([document.name, true]);
    }
    const results: { name: string; ms: number; status: number; message?: string; code?: string }[] = [];
    const sending = (async () => {
      for (let round = 0; round < ROUNDS; round += 1) {
        const answers = await Promise.all(documents.map((document) => post(document.query)));
        answers.forEach((answer, index) =>
          results.push({
            name: documents[index].name,
            ms: answer.ms,
            status: answer.status,
            message: answer.body.errors?.[0]?.message,
            code: answer.body.errors?.[0]?.extensions.code,
          }),
        );
      }
    })();
    const slowestHealth = await slowestHealthWhile(sending);
    await sending;

    for (const document of documents) {
      for (const result of results.filter((entry) => entry.name === document.name)) {
        if (document.expect === 'answered') {
          expect([document.name, result.status, result.code]).toEqual([document.name, 200, undefined]);
        } else {
          expect([document.name, result.status, result.code]).toEqual([document.name, 400, 'BAD_USER_INPUT']);
          expect(result.message).toMatch(document.expect);
        }
      }
    }
    const slowestAnswer = Math.max(...results.map((result) => result.ms));
    expect(slowestAnswer).toBeLessThan(ANSWER_BOUND_MS);
    expect(slowestHealth).toBeLessThan(HEALTH_BOUND_MS);
  });
});
