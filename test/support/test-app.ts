import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { readFileSync } from 'node:fs';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { __resetOutOfContextForTests: resetOutOfRequestLogger } = require('nestjs-pino/PinoLogger') as {
  __resetOutOfContextForTests(): void;
};
import { ApiKeysService, Scope } from '../../src/access-control';
import { APPLICATION_OPTIONS, configureApp, httpAdapter } from '../../src/app.factory';
import { AppModule } from '../../src/app.module';
import { Clock } from '../../src/common';
import { AppConfig, loadConfig } from '../../src/config';
import { DatabaseNotifications, PrismaService } from '../../src/database';
import { rememberSecret } from './secrets-ledger';
import { TestClock } from './test-clock';
import { createTestDatabase, TestDatabase } from './test-database';
import { testServer } from './test-server';

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  headers: Headers;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions: Record<string, any> }[];
}

export interface TestApp {
  app: NestFastifyApplication;
  baseUrl: string;
  config: AppConfig;
  clock: TestClock;
  prisma: PrismaService;
  database: TestDatabase;
  gql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GraphQLResponse<T>>;
  /**
   * Request headers of a caller holding an API key with `scope`. Pass them to
   * every gql() call for a protected operation (all but the client ones).
   */
  as(scope: `${Scope}`): Record<string, string>;
  /** This app's own log lines (JSON, in LOG_FILE), to assert on what it logged. */
  logs: LogFile;
  /**
   * Resolves once the app's caches have seen every change committed so far (after a
   * test writes rows directly: the app learns it by notification, a few ms later).
   */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export type LogLine = Record<string, any> & { msg?: string };

export interface LogFile {
  /** Every line so far. */
  all(): LogLine[];
  /** A position to read from later: `since(mark())`. */
  mark(): number;
  since(mark: number): LogLine[];
}

function logFile(path: string): LogFile {
  const all = (): LogLine[] => {
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as LogLine);
  };
  return { all, mark: () => all().length, since: (mark) => all().slice(mark) };
}

/** One API key per scope, named after it (`test-service`, ...). */
async function createScopeKeys(apiKeys: ApiKeysService): Promise<Record<Scope, string>> {
  const keys = {} as Record<Scope, string>;
  for (const scope of Object.values(Scope) as Scope[]) {
    keys[scope] = (await apiKeys.create(`test-${scope}`, [scope])).key;
    rememberSecret(keys[scope]);
  }
  return keys;
}

/** A master key ring and pepper made once per test file. */
const TEST_SECRETS = {
  KMS_MASTER_KEYS: `test1:${randomBytes(32).toString('base64')}`,
  AUTH_PEPPER: randomBytes(32).toString('base64'),
};

/** The environment every test app starts from; tests override what they exercise. */
export function testEnvironment(overrides: Record<string, string> = {}): Record<string, string> {
  const { logDir } = testServer();
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'debug',
    // A file per app, so that a test reads what its own app logged (the run scans them all).
    LOG_FILE: join(logDir, `app-${process.env.JEST_WORKER_ID ?? '0'}-${randomBytes(4).toString('hex')}.log`),
    DATA_DIR: join(tmpdir(), 'kms-test-data'),
    METRICS_FLUSH_INTERVAL_MS: '100',
    // No key pool unless a test is about it: every app would make 64 RSA keys in the background.
    KEY_POOL_SIZE: '0',
    ...TEST_SECRETS,
    ...overrides,
  };
}

/**
 * The whole service over real HTTP on a random port, on its own fresh database
 * (or a shared one, to run several instances against it), with a movable clock.
 */
export async function startTestApp(
  options: { env?: Record<string, string>; database?: TestDatabase; clock?: TestClock } = {},
): Promise<TestApp> {
  const database = options.database ?? (await createTestDatabase());
  const config = loadConfig(testEnvironment({ ...options.env, DATABASE_URL: database.url }));
  const clock = options.clock ?? new TestClock();
  // nestjs-pino sends log lines written outside a request to the first app of the
  // process; start each app with its own, so that `logs` holds what it said. (Two
  // apps alive at once share the newer one's file for those lines.)
  resetOutOfRequestLogger();
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
    .overrideProvider(Clock)
    .useValue(clock)
    .compile();
  const app = configureApp(
    moduleRef.createNestApplication<NestFastifyApplication>(httpAdapter(config), APPLICATION_OPTIONS),
    config,
  );
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  const keys = await createScopeKeys(app.get(ApiKeysService));
  const baseUrl = `http://127.0.0.1:${port}`;

  const gql: TestApp['gql'] = async (query, variables, headers) => {
    const response = await fetch(`${baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: any; errors?: any[] };
    return { status: response.status, headers: response.headers, ...body };
  };

  return {
    app,
    baseUrl,
    config,
    clock,
    prisma: app.get(PrismaService),
    database,
    gql,
    as: (scope) => ({ authorization: `Bearer ${keys[scope as Scope]}` }),
    logs: logFile(config.log.file!),
    settled: () => app.get(DatabaseNotifications).settled(),
    close: async () => {
      await app.close();
      if (!options.database) await database.drop();
    },
  };
}
