import { applyMigrations } from '../database';
import { runCli, withCliDatabase } from './cli-database';

/** `npm run -s db:migrate`: applies pending migrations from prisma/migrations. */
runCli(() =>
  withCliDatabase(async (url) => {
    const applied = await applyMigrations(url);
    process.stdout.write(
      applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n',
    );
  }),
);
