import { randomUUID } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import { Client, type PoolConfig, type QueryResult } from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';
import type * as EngineModule from '@prisma/schema-engine-wasm/schema_engine_bg';

type Engine = EngineModule.SchemaEngine;
type MigrationList = EngineModule.MigrationList;

export const PRISMA_DIR = resolve(__dirname, '../../prisma');
export const SCHEMA_PATH = join(PRISMA_DIR, 'schema.prisma');
export const MIGRATIONS_DIR = join(PRISMA_DIR, 'migrations');
const NO_FILTERS = { externalTables: [], externalEnums: [] };

let engineModule: Promise<typeof EngineModule> | undefined;

/**
 * Prisma's own schema engine, built to WebAssembly, so migrations need nothing
 * beyond the npm registry. The package's entry point imports a .wasm file, which
 * Node 20 cannot do without a flag, so we instantiate the module ourselves.
 */
function loadEngineModule(): Promise<typeof EngineModule> {
  engineModule ??= (async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const bindings = require('@prisma/schema-engine-wasm/schema_engine_bg') as typeof EngineModule;
    const wasmFile = join(
      dirname(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')),
      'schema_engine_bg.wasm',
    );
    const { instance } = await webAssembly().instantiate(await readFile(wasmFile), {
      './schema_engine_bg.js': withUnrefTimers(bindings),
    });
    const exports = instance.exports as { __wbindgen_start(): void };
    (bindings as unknown as { __wbg_set_wasm(wasm: unknown): void }).__wbg_set_wasm(exports);
    exports.__wbindgen_start();
    return bindings;
  })();
  return engineModule;
}

/**
 * The engine arms 10 s timers around its queries and leaves them running after the
 * work is done, which kept every process that migrated (tests, CLIs) alive 10 s
 * longer. Its timers do not need to hold the process open: they are unref'd.
 */
function withUnrefTimers(bindings: object): object {
  const wrapped: Record<string, unknown> = { ...bindings };
  for (const [name, binding] of Object.entries(bindings)) {
    if (!name.startsWith('__wbg_setTimeout_') || typeof binding !== 'function') continue;
    wrapped[name] = (...args: unknown[]) => {
      const timer = (binding as (...a: unknown[]) => unknown)(...args);
      (timer as { unref?: () => void })?.unref?.();
      return timer;
    };
  }
  return wrapped;
}

/** Node's WebAssembly global; @types/node 20 does not declare it. */
function webAssembly() {
  return (globalThis as unknown as {
    WebAssembly: {
      instantiate(bytes: Buffer, imports: object): Promise<{ instance: { exports: unknown } }>;
    };
  }).WebAssembly;
}

async function schemaFiles() {
  return [{ path: SCHEMA_PATH, content: await readFile(SCHEMA_PATH, 'utf8') }];
}

/** Runs `work` with a schema engine connected to `databaseUrl`, and frees it after. */
export async function withSchemaEngine<T>(
  databaseUrl: string,
  work: (engine: Engine) => Promise<T>,
): Promise<T> {
  const { SchemaEngine } = await loadEngineModule();
  const files = await schemaFiles();
  const factory = new MigrationAdapterFactory(databaseUrl);
  const adapter = bindMigrationAwareSqlAdapterFactory(factory);
  const engine = await SchemaEngine.new(
    { datamodels: files.map((file) => [file.path, file.content]) },
    () => undefined, // the engine's own log lines carry SQL: keep them out of ours
    adapter,
  );
  try {
    return await work(engine);
  } finally {
    // After a panic free() throws too; the connections (and any shadow database) still go.
    try {
      engine.free();
    } finally {
      await factory.disposeAll();
    }
  }
}

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

/**
 * The engine reads the catalog, whose one-byte "char" columns (OID 18) the pg
 * driver adapter (7.10) refuses as an unsupported type; their values are text.
 * pg.Pool calls clients with a callback, direct calls get a promise: fix both.
 */
class CatalogFriendlyClient extends Client {
  override query(...args: unknown[]): never {
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last] as (error: unknown, result?: QueryResult) => void;
      args[last] = (error: unknown, result?: QueryResult) => callback(error, charAsText(result));
    }
    const returned = (super.query as (...a: unknown[]) => unknown)(...args);
    return (returned instanceof Promise ? returned.then(charAsText) : returned) as never;
  }
}

function charAsText(result: QueryResult | undefined) {
  for (const field of result?.fields ?? []) {
    if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
  }
  return result;
}

/**
 * The pg adapter for the engine, with shadow databases done right: @prisma/adapter-pg
 * 7.10 makes one by overriding `database` in a config whose connectionString wins
 * (so it would replay migrations into the real database), and drops it while its
 * own pool is still connected. Diffs from a migrations folder need a shadow database.
 */
class MigrationAdapterFactory extends PrismaPg {
  private readonly poolConfig: PoolConfig;
  /** The engine does not dispose of what it connects: we do, so no pool outlives the task. */
  private readonly opened: { dispose(): Promise<void> }[] = [];

  constructor(databaseUrl: string) {
    const poolConfig = {
      ...parseConnectionString(databaseUrl),
      Client: CatalogFriendlyClient,
    } as PoolConfig;
    super(poolConfig);
    this.poolConfig = poolConfig;
  }

  override async connect() {
    const adapter = await super.connect();
    this.opened.push(adapter);
    return adapter;
  }

  async disposeAll() {
    await Promise.all(
      this.opened.splice(0).map((adapter) => adapter.dispose().catch(() => undefined)),
    );
  }

  override async connectToShadowDb() {
    const name = `prisma_migrate_shadow_db_${randomUUID().replace(/-/g, '')}`;
    await this.runOnServer(`CREATE DATABASE "${name}"`);
    const shadow = await new PrismaPg({ ...this.poolConfig, database: name }).connect();
    const dispose = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      await dispose();
      await this.runOnServer(`DROP DATABASE IF EXISTS "${name}"`);
    };
    return shadow;
  }

  private async runOnServer(statement: string) {
    const client = new Client(this.poolConfig);
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  }
}

/** The migrations folder in the shape the engine expects. */
export async function readMigrationList(upTo?: string): Promise<MigrationList> {
  const entries = await readdir(MIGRATIONS_DIR, { withFileTypes: true }).catch(() => []);
  const directories = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .filter((name) => upTo === undefined || name <= upTo)
    .sort();
  const lockfilePath = join(MIGRATIONS_DIR, 'migration_lock.toml');
  return {
    baseDir: MIGRATIONS_DIR,
    lockfile: {
      path: 'migration_lock.toml',
      content: await readFile(lockfilePath, 'utf8').catch(() => null),
    },
    shadowDbInitScript: '',
    migrationDirectories: await Promise.all(
      directories.map(async (name) => ({
        path: name,
        migrationFile: {
          path: 'migration.sql',
          content: await readFile(join(MIGRATIONS_DIR, name, 'migration.sql'), 'utf8').then(
            (value) => ({ tag: 'ok' as const, value }),
            (error: Error) => ({ tag: 'error' as const, value: error.message }),
          ),
        },
      })),
    ),
  };
}

/**
 * Applies every migration in prisma/migrations not yet recorded in _prisma_migrations
 * (or those up to the one named `upTo` included: upgrade tests stop there, write rows
 * in the old schema, then apply the rest).
 */
export async function applyMigrations(databaseUrl: string, upTo?: string): Promise<string[]> {
  const migrationsList = await readMigrationList(upTo);
  return withSchemaEngine(databaseUrl, async (engine) => {
    const result = await engine.applyMigrations({ migrationsList, filters: NO_FILTERS });
    return result.appliedMigrationNames;
  });
}

/**
 * The SQL that takes a database migrated with the current migrations folder to
 * the current schema.prisma; empty when they already agree.
 */
export async function diffSchemaAgainstMigrations(databaseUrl: string): Promise<string> {
  const migrationsList = await readMigrationList();
  const files = await schemaFiles();
  return withSchemaEngine(databaseUrl, async (engine) => {
    const from =
      migrationsList.migrationDirectories.length === 0
        ? { tag: 'empty' as const }
        : { tag: 'migrations' as const, ...migrationsList };
    const result = await engine.diff({
      from,
      to: { tag: 'schemaDatamodel', files },
      script: true,
      exitCode: null,
      filters: NO_FILTERS,
    });
    return result.stdout ?? '';
  });
}
