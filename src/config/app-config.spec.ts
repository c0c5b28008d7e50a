import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, HostFacts, KNOWN_VARIABLES, loadConfig } from './app-config';

const KEY = Buffer.alloc(32, 1).toString('base64');
const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      http: { port: 3000, bodyLimitBytes: 65536 },
      database: { url: undefined, embeddedPort: undefined },
      keys: {
        expiryDays: 30,
        retentionDays: 90,
        maxGenerationsPerDevice: 5,
        generationWindowHours: 24,
        maxEncryptedDataSize: 2048,
        callerBudgetPerMinute: 60,
        callerBudgetOverrides: new Map(),
        maxGenerationsPerRequest: 3,
        pool: { size: 64, refillBelow: 48, maxAgeHours: 168, refillNice: 19 },
      },
      rotation: { cron: '0 3 * * *' },
      auth: { maxAttempts: 5, lockoutMinutes: 15 },
      access: { allowAnonymousClients: true },
      graphql: { introspection: true },
      masterKeys: undefined,
    });
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' }).http.port).toBe(3000);
  });

  it('reads and converts every kind of value', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgresql://u:p@db:5432/kms',
      ALLOW_ANONYMOUS_CLIENTS: 'false',
      METRICS_PROBLEM_KEY_FAILURE_RATE: '0.5',
      KMS_MASTER_KEYS: `new:${KEY},old:${Buffer.alloc(32, 2).toString('base64')}`,
    });
    expect(config.http.port).toBe(8080);
    expect(config.database.url).toBe('postgresql://u:p@db:5432/kms');
    expect(config.access.allowAnonymousClients).toBe(false);
    expect(config.metrics.problemKeyFailureRate).toBe(0.5);
    expect(config.masterKeys!.map((entry) => entry.id)).toEqual(['new', 'old']);
    expect(config.masterKeys![0].key).toEqual(Buffer.alloc(32, 1));
  });

  it('names every bad variable in one error, without echoing secrets', () => {
    const error = problemsOf({
      PORT: 'abc',
      KEY_EXPIRY_DAYS: '0',
      KEY_ROTATION_CRON: 'every day',
      ALLOW_ANONYMOUS_CLIENTS: 'perhaps',
      DATABASE_URL: 'mysql://user:hunter2@db/kms',
      KMS_MASTER_KEYS: 'k1:tooshort',
    });
    expect(error.problems).toHaveLength(6);
    for (const name of ['PORT', 'KEY_EXPIRY_DAYS', 'KEY_ROTATION_CRON', 'ALLOW_ANONYMOUS_CLIENTS', 'DATABASE_URL', 'KMS_MASTER_KEYS']) {
      expect(error.message).toContain(name);
    }
    expect(error.problems).toContain('PORT: must be an integer number (got "abc")');
    expect(error.message).not.toContain('hunter2');
    expect(error.message).not.toContain('tooshort');
  });

  it('refuses a master key ring with a repeated id or a key that is not 32 bytes', () => {
    expect(problemsOf({ KMS_MASTER_KEYS: `a:${KEY},a:${KEY}` }).message).toContain('KMS_MASTER_KEYS');
    expect(problemsOf({ KMS_MASTER_KEYS: `a:${Buffer.alloc(16).toString('base64')}` }).message).toContain('KMS_MASTER_KEYS');
  });

  it('reads CORS_ORIGINS as a list of exact origins (none by default)', () => {
    expect(loadConfig({}).http.corsOrigins).toEqual([]);
    expect(
      loadConfig({ CORS_ORIGINS: ' https://app.example.com, http://localhost:5173,,https://app.example.com' }).http
        .corsOrigins,
    ).toEqual(['https://app.example.com', 'http://localhost:5173']);
  });

  it('reads KEY_GEN_CALLER_BUDGETS as API key id -> generations per minute', () => {
    const [a, b] = ['0b6c3a52-8f7e-4d0a-9c1e-2f3a4b5c6d7e', '9F1E2D3C-4B5A-4968-8776-655443322110'];
    expect(loadConfig({ KEY_GEN_CALLER_BUDGETS: ` ${a}=600,${b}=1,` }).keys.callerBudgetOverrides).toEqual(
      new Map([[a, 600], [b.toLowerCase(), 1]]),
    );
  });

  it.each([
    ['no figure', '0b6c3a52-8f7e-4d0a-9c1e-2f3a4b5c6d7e'],
    ['zero', '0b6c3a52-8f7e-4d0a-9c1e-2f3a4b5c6d7e=0'],
    ['over the maximum', '0b6c3a52-8f7e-4d0a-9c1e-2f3a4b5c6d7e=100001'],
    ['a name, not an id', 'backend=600'],
    ['the same id twice', '0b6c3a52-8f7e-4d0a-9c1e-2f3a4b5c6d7e=5,0b6c3a52-8f7e-4d0a-9c1e-2f3a4b5c6d7e=6'],
  ])('refuses KEY_GEN_CALLER_BUDGETS with %s', (_case, value) => {
    const error = problemsOf({ KEY_GEN_CALLER_BUDGETS: value });
    expect(error.problems).toEqual([expect.stringMatching(/^KEY_GEN_CALLER_BUDGETS: must be a comma-separated list of <API key id>=/)]);
  });

  it.each([
    ['MAX_KEY_GEN_PER_CALLER_PER_MINUTE', '0'],
    ['MAX_KEY_GEN_PER_REQUEST', '0'],
    ['MAX_KEY_GEN_PER_REQUEST', '101'],
  ])('refuses %s=%s', (name, value) => {
    expect(problemsOf({ [name]: value }).problems).toEqual([expect.stringMatching(new RegExp(`^${name}: `))]);
  });

  it.each([
    ['*', 'wildcard'],
    ['https://*.example.com', 'wildcard'],
    ['https://app.example.com/', 'a browser sends "https://app.example.com"'],
    ['https://app.example.com/login', 'a browser sends "https://app.example.com"'],
    ['https://App.Example.com', 'a browser sends "https://app.example.com"'],
    ['https://app.example.com:443', 'a browser sends "https://app.example.com"'],
    ['https://user@app.example.com', 'a browser sends "https://app.example.com"'],
    ['app.example.com', 'not an origin'],
    ['null', 'not an origin'],
    ['file:///tmp/page.html', 'not an http(s) origin'],
  ])('refuses CORS_ORIGINS entry %s', (entry, reason) => {
    const error = problemsOf({ CORS_ORIGINS: `https://ok.example.com,${entry}` });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^CORS_ORIGINS: must be comma-separated exact origins/);
    expect(error.problems[0]).toContain(reason);
  });

  it('refuses a key pool refill threshold above its size, unless there is no pool', () => {
    expect(problemsOf({ KEY_POOL_SIZE: '10', KEY_POOL_REFILL_BELOW: '11' }).problems).toEqual([
      'KEY_POOL_REFILL_BELOW: must not exceed KEY_POOL_SIZE (unless KEY_POOL_SIZE=0, no pool)',
    ]);
    expect(problemsOf({ KEY_POOL_SIZE: '-1', KEY_POOL_MAX_AGE_HOURS: '0' }).problems).toEqual([
      'KEY_POOL_SIZE: must not be less than 0 (got "-1")',
      'KEY_POOL_MAX_AGE_HOURS: must not be less than 1 (got "0")',
    ]);
    expect(loadConfig({ KEY_POOL_SIZE: '0' }).keys.pool).toEqual({ size: 0, refillBelow: 48, maxAgeHours: 168, refillNice: 19 });
    expect(loadConfig({ KEY_POOL_SIZE: '10', KEY_POOL_REFILL_BELOW: '10' }).keys.pool.refillBelow).toBe(10);
  });

  it('refuses to run in production without a master key ring and a pepper', () => {
    const error = problemsOf({ NODE_ENV: 'production' });
    expect(error.problems).toEqual([
      'KMS_MASTER_KEYS: required when NODE_ENV=production',
      'AUTH_PEPPER: required when NODE_ENV=production',
    ]);
  });

  it('turns production defaults safe', () => {
    const config = loadConfig({ NODE_ENV: 'production', KMS_MASTER_KEYS: `k:${KEY}`, AUTH_PEPPER: 'p'.repeat(32) });
    expect(config.access.allowAnonymousClients).toBe(false);
    expect(config.graphql.introspection).toBe(false);
  });

  it('logs pretty only to a terminal, JSON to anything else, whatever NODE_ENV', () => {
    const terminal: HostFacts = { stdoutIsTerminal: true, cpus: 2 };
    const pipe: HostFacts = { stdoutIsTerminal: false, cpus: 2 };
    const production = { NODE_ENV: 'production', KMS_MASTER_KEYS: `k:${KEY}`, AUTH_PEPPER: 'p'.repeat(32) };
    expect(loadConfig({}, terminal).log.format).toBe('pretty');
    expect(loadConfig({}, pipe).log.format).toBe('json');
    expect(loadConfig({ NODE_ENV: 'development' }, pipe).log.format).toBe('json');
    expect(loadConfig(production, terminal).log.format).toBe('pretty');
    expect(loadConfig({ LOG_FORMAT: 'pretty' }, pipe).log.format).toBe('pretty');
    expect(loadConfig({ LOG_FORMAT: 'pretty', LOG_FILE: '/tmp/x.log' }, terminal).log.format).toBe('json');
  });

  it('runs one worker per CPU by default, and sizes each pool within DATABASE_MAX_CONNECTIONS', () => {
    const host = (cpus: number): HostFacts => ({ stdoutIsTerminal: false, cpus });
    const sizes = (env: Record<string, string>, cpus: number) => {
      const { workers, database } = loadConfig(env, host(cpus));
      // Each worker: its pool, one LISTEN connection, its advisory-lock sessions.
      return { workers, poolSize: database.poolSize, total: workers * (database.poolSize + 1 + database.lockSessions) };
    };
    expect(sizes({}, 1)).toEqual({ workers: 1, poolSize: 10, total: 13 });
    expect(sizes({}, 2)).toEqual({ workers: 2, poolSize: 10, total: 26 });
    expect(sizes({}, 4)).toEqual({ workers: 4, poolSize: 7, total: 40 });
    expect(sizes({}, 8)).toEqual({ workers: 8, poolSize: 2, total: 40 });
    expect(sizes({ WEB_CONCURRENCY: '3' }, 8)).toEqual({ workers: 3, poolSize: 10, total: 39 });
    expect(sizes({ WEB_CONCURRENCY: '16', DATABASE_MAX_CONNECTIONS: '100' }, 2)).toEqual({ workers: 16, poolSize: 3, total: 96 });
    expect(() => loadConfig({}, host(16))).toThrow(/DATABASE_MAX_CONNECTIONS: 40 connections cannot serve 16 workers \(each needs at least 5\)/);
    expect(() => loadConfig({ WEB_CONCURRENCY: '4', DATABASE_MAX_CONNECTIONS: '19' }, host(2))).toThrow(/cannot serve 4 workers/);
    expect(problemsOf({ WEB_CONCURRENCY: '0' }).problems).toEqual(['WEB_CONCURRENCY: must not be less than 1 (got "0")']);
  });

  it('is documented variable for variable in .env.example', () => {
    const example = readFileSync(join(__dirname, '../../.env.example'), 'utf8');
    const documented = [...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]);
    expect([...documented].sort()).toEqual([...KNOWN_VARIABLES].sort());
  });

  it('gives .env.example defaults that load and equal the built-in ones', () => {
    const example = readFileSync(join(__dirname, '../../.env.example'), 'utf8');
    const values = Object.fromEntries(
      [...example.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((match) => [match[1], match[2]]),
    );
    expect(loadConfig(values)).toEqual(loadConfig({}));
  });
});
