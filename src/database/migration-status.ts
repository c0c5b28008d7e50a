import { readdir } from 'node:fs/promises';
import { MIGRATIONS_DIR } from './schema-engine';
import type { PrismaService } from './prisma.service';

/** Names of the migrations in prisma/migrations, oldest first. */
export async function migrationNames(): Promise<string[]> {
  const entries = await readdir(MIGRATIONS_DIR, { withFileTypes: true });
  return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
}

/** Migrations of this build that the database has not applied (or applied and rolled back). */
export async function pendingMigrations(prisma: PrismaService): Promise<string[]> {
  const expected = await migrationNames();
  const applied = await prisma.$queryRaw<{ migration_name: string }[]>`
    SELECT migration_name FROM _prisma_migrations
    WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`.catch(() => []);
  const done = new Set(applied.map((row) => row.migration_name));
  return expected.filter((name) => !done.has(name));
}
