import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ApiKeysService } from '../../src/api-keys/api-keys.service';
import { configureApp } from '../../src/app.factory';
import { AppModule } from '../../src/app.module';
import { Scope } from '../../src/common/auth/scopes';
import { Clock } from '../../src/common/clock';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { PrismaService } from '../../src/database/prisma.service';
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
  app: NestExpressApplication;
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
  close(): Promise<void>;
}

/** One API key per scope, named after it (`test-service`, ...). */
async function createScopeKeys(apiKeys: ApiKeysService): Promise<Record<Scope, string>> {
  const keys = {} as Record<Scope, string>;
  for (const scope of Object.values(Scope)) {
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
    LOG_FILE: join(logDir, `app-${process.env.JEST_WORKER_ID ?? '0'}.log`),
    DATA_DIR: join(tmpdir(), 'kms-test-data'),
    METRICS_FLUSH_INTERVAL_MS: '100',
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
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
    .overrideProvider(Clock)
    .useValue(clock)
    .compile();
  const app = configureApp(
    moduleRef.createNestApplication<NestExpressApplication>({ bufferLogs: true }),
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
    close: async () => {
      await app.close();
      if (!options.database) await database.drop();
    },
  };
}
