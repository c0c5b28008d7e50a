import { applyMigrations } from '../database';
import { runCli, withCliDatabase } from './cli-database';

/**
 * `npm run -s db:migrate [-- --up-to <migration>]`: applies pending migrations from
 * prisma/migrations (with --up-to, only those up to that one included: a staged
 * upgrade, and how the upgrade tests write rows in an older schema).
 */
runCli(() =>
  withCliDatabase(async (url) => {
    const at = process.argv.indexOf('--up-to');
    const upTo = at > 0 ? process.argv[at + 1] : undefined;
    if (at > 0 && !upTo) throw new Error('usage: npm run -s db:migrate [-- --up-to <migration directory name>]');
    const applied = await applyMigrations(url, upTo);
    process.stdout.write(
      applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n',
    );
  }),
);
