import { parseArgs } from 'node:util';
import { ApiKeysService, Scope, standaloneApiKeysService } from '../access-control';
import { isPrintableIdentifier, loadPepperRing } from '../common';
import { PrismaService } from '../database';
import { runCli, withCliDatabase } from './cli-database';

const USAGE = `usage:
  npm run -s apikeys -- create --name <name> --scopes <scope>[,<scope>...]   (client, service, ops, admin)
  npm run -s apikeys -- list
  npm run -s apikeys -- revoke <id>`;

/**
 * API keys from the command line, against DATABASE_URL or the embedded database.
 * `create` prints the key once, on stdout alone (easy to capture); nothing else ever shows it.
 */
runCli(async () => {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { name: { type: 'string' }, scopes: { type: 'string' } },
  });
  const [command, id] = positionals;
  await withCliDatabase(async (_url, config) => {
    const prisma = new PrismaService(config);
    const peppers = await loadPepperRing(config, (message) => process.stderr.write(`${message}\n`));
    const service = standaloneApiKeysService(config, prisma, peppers);
    try {
      if (command === 'create') await create(service, values.name, values.scopes);
      else if (command === 'list') await list(service);
      else if (command === 'revoke' && id) {
        await service.revoke(id);
        process.stderr.write(`revoked ${id}\n`);
      } else throw new Error(USAGE);
    } finally {
      await prisma.$disconnect();
    }
  });
});

async function create(service: ApiKeysService, name?: string, scopeList?: string) {
  const scopes = (scopeList ?? '').split(',').map((scope) => scope.trim()).filter(Boolean);
  const known = Object.values(Scope) as string[];
  if (!name || !isPrintableIdentifier(name, 100)) throw new Error(USAGE);
  if (scopes.length === 0 || scopes.some((scope) => !known.includes(scope))) throw new Error(USAGE);
  const { apiKey, key } = await service.create(name, scopes as Scope[]);
  process.stderr.write(`created ${apiKey.id} (${apiKey.name}: ${apiKey.scopes.join(', ')}); the key, shown once:\n`);
  process.stdout.write(`${key}\n`);
}

async function list(service: ApiKeysService) {
  const rows = (await service.list()).map((key) => [
    key.id,
    key.name,
    key.scopes.join(','),
    key.prefix ? `${key.prefix}…` : '(chosen)',
    key.createdAt.toISOString(),
    key.lastUsedAt?.toISOString() ?? '-',
    key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : 'active',
  ]);
  const header = ['id', 'name', 'scopes', 'key', 'created', 'last used', 'state'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  for (const row of [header, ...rows]) {
    process.stdout.write(`${row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd()}\n`);
  }
}
