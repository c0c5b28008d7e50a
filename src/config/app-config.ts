import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { Environment, parseCallerBudgets, parseOriginList, SECRET_VARIABLES } from './environment';

export interface MasterKeyEntry {
  id: string;
  key: Buffer;
}

/** One pepper of the AUTH_PEPPER ring: its id (named by what it protects) and its secret. */
export interface PepperEntry {
  id: string;
  secret: Buffer;
}

/** The id of a pepper given without one (AUTH_PEPPER before rings, the development file). */
export const UNNAMED_PEPPER_ID = '0';

/** The typed configuration every module reads; built once from the environment. */
export interface AppConfig {
  env: Environment['NODE_ENV'];
  isProduction: boolean;
  http: {
    host: string;
    port: number;
    bodyLimitBytes: number;
    shutdownTimeoutMs: number;
    /** After SIGTERM, how long kept-alive connections may still bring requests (answered with Connection: close). */
    keepAliveGraceMs: number;
    /** Exact origins whose pages may call the service (CORS); empty: no CORS headers at all. */
    corsOrigins: string[];
  };
  /** Worker processes sharing the port (1: the service runs in the first process, no cluster). */
  workers: number;
  database: {
    url?: string;
    dataDir: string;
    /** Unset: the embedded server opens no TCP port (Unix socket only). */
    embeddedPort?: number;
    connectTimeoutMs: number;
    statementTimeoutMs: number;
    /** Connections of one service instance, all workers together (see connectionBudget). */
    maxConnections: number;
    /** Prisma's pool in each worker, derived from maxConnections and the number of workers. */
    poolSize: number;
    /** Session connections for advisory locks, at most, in each worker. */
    lockSessions: number;
  };
  /** Longest an API key or a device key row is served from memory (0: no caches). */
  cacheMaxAgeMs: number;
  /** `file`: append JSON lines there instead of stdout. */
  log: { level: string; format: 'json' | 'pretty'; file?: string };
  keys: {
    expiryDays: number;
    retentionDays: number;
    maxGenerationsPerDevice: number;
    generationWindowHours: number;
    /** Key generations one caller (API key, or remote address when anonymous) may start per minute. */
    callerBudgetPerMinute: number;
    /** API key id → its own per-minute budget, in place of callerBudgetPerMinute. */
    callerBudgetOverrides: ReadonlyMap<string, number>;
    /** Key generations one HTTP request may attempt, however batched or aliased. */
    maxGenerationsPerRequest: number;
    maxEncryptedDataSize: number;
    /** Key pairs made ahead of need (size 0: no pool, every key is made on request). */
    pool: {
      /** Pairs a refill fills the pool up to. */
      size: number;
      /** A refill starts when fewer pairs than this are left. */
      refillBelow: number;
      /** An unclaimed pair older than this is never handed out, and is replaced. */
      maxAgeHours: number;
      /** CPU priority (Linux niceness, per thread) of the refill's thread: 19, only CPU time nothing else wants. */
      refillNice: number;
    };
  };
  rotation: { cron: string; batchSize: number };
  /** Newest first; undefined means "use the development key file". */
  masterKeys?: MasterKeyEntry[];
  auth: {
    /** Newest first; undefined means "use the development pepper file". */
    peppers?: PepperEntry[];
    maxAttempts: number;
    lockoutMinutes: number;
    argon2: { memoryKib: number; timeCost: number; parallelism: number };
  };
  access: { allowAnonymousClients: boolean; bootstrapAdminKey?: string };
  graphql: {
    maxDepth: number;
    maxAliases: number;
    maxFields: number;
    maxBatch: number;
    maxTokens: number;
    introspection: boolean;
  };
  metrics: {
    /** Raw EncryptionMetric rows (whole day partitions are dropped past it). */
    retentionDays: number;
    /** Rollups (may outlive the raw rows). */
    rollupRetentionDays: number;
    /** How often the rollup step looks for buckets to build. */
    rollupIntervalMs: number;
    /** Memory each process may keep closed buckets' rollups in for the summary (0: none kept). */
    summaryCacheBytes: number;
    flushIntervalMs: number;
    batchSize: number;
    bufferMax: number;
    problemKeyMinFailures: number;
    problemKeyFailureRate: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((problem) => `  - ${problem}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** Optional variables have no default; listed so that they are read whatever the class-field semantics. */
const OPTIONAL_VARIABLES = [
  'WEB_CONCURRENCY',
  'DATABASE_URL',
  'LOG_FORMAT',
  'LOG_FILE',
  'KMS_MASTER_KEYS',
  'AUTH_PEPPER',
  'ALLOW_ANONYMOUS_CLIENTS',
  'KMS_BOOTSTRAP_ADMIN_KEY',
  'CORS_ORIGINS',
  'EMBEDDED_PG_PORT',
  'KEY_GEN_CALLER_BUDGETS',
];
export const KNOWN_VARIABLES = [...new Set([...Object.keys(new Environment()), ...OPTIONAL_VARIABLES])];

/** Each variable's built-in default (undefined: none), as validation applies it. */
export const ENVIRONMENT_DEFAULTS: ReadonlyMap<string, unknown> = new Map(
  KNOWN_VARIABLES.map((name) => [name, (new Environment() as unknown as Record<string, unknown>)[name]]),
);

/** What the configuration's defaults depend on beyond the environment. */
export interface HostFacts {
  /** Pretty logs only for a person watching; JSON for files, pipes and collectors. */
  stdoutIsTerminal: boolean;
  /** The default number of workers. */
  cpus: number;
}

export function currentHost(): HostFacts {
  return { stdoutIsTerminal: process.stdout.isTTY === true, cpus: availableParallelism() };
}

/**
 * The connection budget of one service instance (DATABASE_MAX_CONNECTIONS, all its
 * workers together): each worker holds one connection for LISTEN (cache invalidation),
 * at most LOCK_SESSIONS_PER_WORKER session connections for advisory locks (the daily
 * job, rotations), and its Prisma pool: what is left of its share, at
 * most MAX_POOL_SIZE (beyond that, requests wait on the database, not on the pool).
 */
export const LOCK_SESSIONS_PER_WORKER = 2;
const LISTEN_CONNECTIONS_PER_WORKER = 1;
const MIN_POOL_SIZE = 2;
const MAX_POOL_SIZE = 10;

export function connectionBudget(maxConnections: number, workers: number): { poolSize: number } | { problem: string } {
  const reserved = LISTEN_CONNECTIONS_PER_WORKER + LOCK_SESSIONS_PER_WORKER;
  const poolSize = Math.min(MAX_POOL_SIZE, Math.floor(maxConnections / workers) - reserved);
  if (poolSize >= MIN_POOL_SIZE) return { poolSize };
  return {
    problem:
      `DATABASE_MAX_CONNECTIONS: ${maxConnections} connections cannot serve ${workers} workers ` +
      `(each needs at least ${MIN_POOL_SIZE + reserved}); raise it or lower WEB_CONCURRENCY`,
  };
}

/** Reads and validates the environment; throws one ConfigError naming every bad variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env, host: HostFacts = currentHost()): AppConfig {
  // Only our own variables, and an empty value means "unset" (FOO= in a .env file).
  const raw: Record<string, string> = {};
  for (const name of KNOWN_VARIABLES) {
    const value = source[name];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  const env = plainToInstance(Environment, raw, { exposeDefaultValues: true });
  const problems = validateSync(env, { forbidUnknownValues: true, stopAtFirstError: true }).map((error) => {
    const name = error.property;
    const reasons = Object.values(error.constraints ?? {}).map((reason) =>
      reason.startsWith(`${name} `) ? reason.slice(name.length + 1) : reason,
    );
    const shown = SECRET_VARIABLES.has(name) ? '' : ` (got "${raw[name]}")`;
    return `${name}: ${reasons.join('; ')}${shown}`;
  });
  const isProduction = env.NODE_ENV === 'production';
  if (isProduction && !env.KMS_MASTER_KEYS) {
    problems.push('KMS_MASTER_KEYS: required when NODE_ENV=production');
  }
  if (isProduction && !env.AUTH_PEPPER) {
    problems.push('AUTH_PEPPER: required when NODE_ENV=production');
  }
  const workers = env.WEB_CONCURRENCY ?? host.cpus;
  const budget = connectionBudget(env.DATABASE_MAX_CONNECTIONS, workers);
  if ('problem' in budget && !problems.some((problem) => /^(WEB_CONCURRENCY|DATABASE_MAX_CONNECTIONS):/.test(problem))) {
    problems.push(budget.problem);
  }
  if (env.KEY_POOL_SIZE > 0 && env.KEY_POOL_REFILL_BELOW > env.KEY_POOL_SIZE) {
    problems.push('KEY_POOL_REFILL_BELOW: must not exceed KEY_POOL_SIZE (unless KEY_POOL_SIZE=0, no pool)');
  }
  if (env.SHUTDOWN_KEEPALIVE_GRACE_MS >= env.SHUTDOWN_TIMEOUT_MS) {
    problems.push('SHUTDOWN_KEEPALIVE_GRACE_MS: must be shorter than SHUTDOWN_TIMEOUT_MS');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return toAppConfig(env, isProduction, host, workers, (budget as { poolSize: number }).poolSize);
}

export function parseMasterKeys(ring: string): MasterKeyEntry[] {
  return ring.split(',').map((entry) => {
    const [id, key] = entry.trim().split(':');
    return { id, key: Buffer.from(key, 'base64') };
  });
}

/** `<id>:<secret>,...` (newest first), or one secret without an id: pepper `0`. */
export function parsePepperRing(ring: string): PepperEntry[] {
  if (!ring.includes(':')) return [{ id: UNNAMED_PEPPER_ID, secret: Buffer.from(ring.trim(), 'utf8') }];
  return ring.split(',').map((entry) => {
    const trimmed = entry.trim();
    const separator = trimmed.indexOf(':');
    return { id: trimmed.slice(0, separator), secret: Buffer.from(trimmed.slice(separator + 1), 'utf8') };
  });
}

function toAppConfig(env: Environment, isProduction: boolean, host: HostFacts, workers: number, poolSize: number): AppConfig {
  return {
    env: env.NODE_ENV,
    isProduction,
    http: {
      host: env.HOST,
      port: env.PORT,
      bodyLimitBytes: env.REQUEST_BODY_LIMIT_BYTES,
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
      keepAliveGraceMs: env.SHUTDOWN_KEEPALIVE_GRACE_MS,
      corsOrigins: env.CORS_ORIGINS ? parseOriginList(env.CORS_ORIGINS) : [],
    },
    workers,
    database: {
      url: env.DATABASE_URL,
      dataDir: resolve(env.DATA_DIR),
      embeddedPort: env.EMBEDDED_PG_PORT,
      connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
      maxConnections: env.DATABASE_MAX_CONNECTIONS,
      poolSize,
      lockSessions: LOCK_SESSIONS_PER_WORKER,
    },
    cacheMaxAgeMs: env.CACHE_MAX_AGE_MS,
    log: {
      level: env.LOG_LEVEL,
      // Pretty only for a person at a terminal, whatever NODE_ENV: a service piped to a
      // file or a collector writes JSON (pino-pretty costs CPU on every request line).
      format: env.LOG_FILE ? 'json' : (env.LOG_FORMAT ?? (host.stdoutIsTerminal ? 'pretty' : 'json')),
      file: env.LOG_FILE,
    },
    keys: {
      expiryDays: env.KEY_EXPIRY_DAYS,
      retentionDays: env.KEY_RETENTION_DAYS,
      maxGenerationsPerDevice: env.MAX_KEY_GEN_PER_DEVICE,
      generationWindowHours: env.KEY_GEN_WINDOW_HOURS,
      callerBudgetPerMinute: env.MAX_KEY_GEN_PER_CALLER_PER_MINUTE,
      callerBudgetOverrides: parseCallerBudgets(env.KEY_GEN_CALLER_BUDGETS ?? ''),
      maxGenerationsPerRequest: env.MAX_KEY_GEN_PER_REQUEST,
      maxEncryptedDataSize: env.MAX_ENCRYPTED_DATA_SIZE,
      pool: {
        size: env.KEY_POOL_SIZE,
        refillBelow: env.KEY_POOL_REFILL_BELOW,
        maxAgeHours: env.KEY_POOL_MAX_AGE_HOURS,
        refillNice: env.KEY_POOL_REFILL_NICE,
      },
    },
    rotation: { cron: env.KEY_ROTATION_CRON, batchSize: env.KEY_ROTATION_BATCH_SIZE },
    masterKeys: env.KMS_MASTER_KEYS ? parseMasterKeys(env.KMS_MASTER_KEYS) : undefined,
    auth: {
      peppers: env.AUTH_PEPPER ? parsePepperRing(env.AUTH_PEPPER) : undefined,
      maxAttempts: env.AUTH_MAX_ATTEMPTS,
      lockoutMinutes: env.AUTH_LOCKOUT_MINUTES,
      argon2: {
        memoryKib: env.ARGON2_MEMORY_KIB,
        timeCost: env.ARGON2_TIME_COST,
        parallelism: env.ARGON2_PARALLELISM,
      },
    },
    access: {
      allowAnonymousClients: env.ALLOW_ANONYMOUS_CLIENTS ?? !isProduction,
      bootstrapAdminKey: env.KMS_BOOTSTRAP_ADMIN_KEY,
    },
    graphql: {
      maxDepth: env.GRAPHQL_MAX_DEPTH,
      maxAliases: env.GRAPHQL_MAX_ALIASES,
      maxFields: env.GRAPHQL_MAX_FIELDS,
      maxBatch: env.GRAPHQL_MAX_BATCH,
      maxTokens: env.GRAPHQL_MAX_TOKENS,
      introspection: !isProduction,
    },
    metrics: {
      retentionDays: env.METRICS_RETENTION_DAYS,
      rollupRetentionDays: env.METRICS_ROLLUP_RETENTION_DAYS,
      rollupIntervalMs: env.METRICS_ROLLUP_INTERVAL_MS,
      summaryCacheBytes: env.METRICS_SUMMARY_CACHE_MB * 1024 * 1024,
      flushIntervalMs: env.METRICS_FLUSH_INTERVAL_MS,
      batchSize: env.METRICS_BATCH_SIZE,
      bufferMax: env.METRICS_BUFFER_MAX,
      problemKeyMinFailures: env.METRICS_PROBLEM_KEY_MIN_FAILURES,
      problemKeyFailureRate: env.METRICS_PROBLEM_KEY_FAILURE_RATE,
    },
  };
}
