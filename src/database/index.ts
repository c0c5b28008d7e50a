/**
 * PostgreSQL: the one Prisma client (PrismaService), migrations through Prisma's
 * WebAssembly schema engine, the embedded server, advisory locks, LISTEN/NOTIFY and
 * the caches it invalidates (NotifiedCache), and the batch
 * statements the daily job is made of. The only module that imports the generated
 * Prisma client; the tables themselves belong to the feature modules.
 */
export { Prisma } from '../generated/prisma/client';
export { AdvisoryLock, Exclusive } from './advisory-lock';
export { Batch, deleteInsertOnlyBatch, runBatch } from './batches';
export { assertDatabaseReachable, describeDatabaseUrl } from './connection-check';
export { connectionOptions } from './connection-options';
export { DatabaseModule } from './database.module';
export { DatabaseNotifications, NotificationSubscriber } from './database-notifications';
export { NotifiedCache, NotifiedCacheOptions } from './notified-cache';
export { EmbeddedDatabase, EmbeddedPostgresError, EmbeddedPostgresOptions, startEmbeddedPostgres } from './embedded-postgres';
export { migrationNames, pendingMigrations } from './migration-status';
export { PrismaService } from './prisma.service';
export { applyMigrations, diffSchemaAgainstMigrations, MIGRATIONS_DIR } from './schema-engine';
export { integersOfArrayText, rate, round, SqlNumber, toNumber } from './sql-numbers';
