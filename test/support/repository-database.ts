import { type AppConfig, loadConfig } from '../../src/config';
import { PrismaService } from '../../src/database';
import { createTestDatabase, TestDatabase } from './test-database';

export interface RepositoryDatabase {
  prisma: PrismaService;
  config: AppConfig;
  database: TestDatabase;
  close(): Promise<void>;
}

/**
 * The repository tier: a fresh clone of the migrated template and a Prisma client
 * on it, without Nest or Apollo. Repositories are constructed by hand around it.
 */
export async function repositoryDatabase(env: Record<string, string> = {}): Promise<RepositoryDatabase> {
  const database = await createTestDatabase();
  const config = loadConfig({ NODE_ENV: 'test', ...env, DATABASE_URL: database.url });
  const prisma = new PrismaService(config);
  return {
    prisma,
    config,
    database,
    close: async () => {
      await prisma.$disconnect();
      await database.drop();
    },
  };
}
