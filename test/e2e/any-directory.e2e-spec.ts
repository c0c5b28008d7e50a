import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startEmbeddedPostgres } from '../../src/database';
import { clusterId } from '../../src/database/embedded-postgres-layout';
import { GENERATE_KEY, ENCRYPTION_KEY } from '../support/operations';
import { privateCheckout } from '../support/private-checkout';
import { graphqlOnPort as gql, startServiceProcess, stopServiceProcess } from '../support/service-process';

const ROOT = join(__dirname, '../..');
const asRoot = process.getuid?.() === 0;
if (!asRoot) {
  process.stderr.write('any-directory.e2e-spec: not running as root, so the root-in-a-private-directory case is skipped\n');
}

/** postmaster.pid: line 5 is the socket directory, line 6 the TCP listen address (empty: none). */
const postmaster = (pgData: string) => readFileSync(join(pgData, 'postmaster.pid'), 'utf8').split('\n');

describe('the embedded PostgreSQL, from any directory and beside another checkout', () => {
  (asRoot ? it : it.skip)('starts as root from a checkout inside a 0700 directory (mktemp -d), and finds its data again', async () => {
    const checkout = await privateCheckout();
    try {
      const env = { PORT: '0', NODE_ENV: 'development' };
      const first = startServiceProcess(env, [], checkout.dir);
      const port = await first.serving;
      const notice = first.stdout().split('\n').find((line) => line.includes('keeps its data in'));
      expect(notice).toMatch(/running as root, and the postgres user cannot enter .*\.data: the embedded PostgreSQL keeps its data in \/[^"]+\/data/);
      const pgData = /keeps its data in ([^"]+)"/.exec(notice!)![1];
      expect(postmaster(pgData)[5]).toBe(''); // no TCP port
      expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
      const keyId = (await gql(port, GENERATE_KEY, { input: { deviceId: 'private-dir' } })).data.generateEncryptionKey.keyId;
      expect(await stopServiceProcess(first)).toBe(0);
      expect(existsSync(join(pgData, 'postmaster.pid'))).toBe(false);

      const second = startServiceProcess(env, [], checkout.dir);
      const again = await second.serving;
      expect((await gql(again, ENCRYPTION_KEY, { keyId })).data.encryptionKey).toMatchObject({ keyId, deviceId: 'private-dir' });
      expect(await stopServiceProcess(second)).toBe(0);
      await rm(join(pgData, '..'), { recursive: true, force: true });
    } finally {
      await checkout.remove();
    }
  });

  (asRoot ? it : it.skip)('keeps the data in DATA_DIR when the postgres user can enter it, even if not the checkout', async () => {
    const checkout = await privateCheckout();
    const dataDir = await mkdtemp(join(tmpdir(), 'kms-reachable-'));
    try {
      const service = startServiceProcess({ PORT: '0', DATA_DIR: dataDir }, [], checkout.dir);
      await service.serving;
      expect(service.stdout()).not.toContain('keeps its data in');
      expect(postmaster(join(dataDir, 'postgres'))[5]).toBe('');
      expect(await stopServiceProcess(service)).toBe(0);
    } finally {
      await checkout.remove();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('runs two checkouts side by side with no settings (a socket each, no TCP port), and a CLI finds its server by DATA_DIR alone', async () => {
    const dirs = [await mkdtemp(join(tmpdir(), 'kms-side-a-')), await mkdtemp(join(tmpdir(), 'kms-side-b-'))];
    const services = dirs.map((DATA_DIR) => startServiceProcess({ DATA_DIR, PORT: '0' }));
    try {
      const [a, b] = await Promise.all(services.map((service) => service.serving));
      for (const dir of dirs) {
        const [, , , port, socketDir, listenAddress] = postmaster(join(dir, 'postgres'));
        expect([port, socketDir, listenAddress]).toEqual(['5432', join(dir, 'postgres'), '']);
      }
      const keyId = (await gql(a, GENERATE_KEY, { input: { deviceId: 'side-by-side' } })).data.generateEncryptionKey.keyId;
      expect((await gql(b, ENCRYPTION_KEY, { keyId })).data.encryptionKey).toBeNull();

      const migrate = await promisify(execFile)(process.execPath, ['-r', '@swc-node/register', 'src/cli/migrate.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dirs[0] },
      });
      expect(migrate.stdout).toBe('database is up to date\n');
      expect(existsSync(join(dirs[0], 'postgres', 'postmaster.pid'))).toBe(true); // the CLI left the service's server running
      for (const service of services) expect(await stopServiceProcess(service)).toBe(0);
    } finally {
      for (const service of services) service.child.kill('SIGKILL');
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    }
  });

  it('puts the socket in a private directory of its own when DATA_DIR is too deep for a socket path, and refuses one that is not private', async () => {
    const base = await mkdtemp(join(tmpdir(), 'kms-deep-'));
    await chmod(base, 0o711); // as root: reachable, so that the cluster stays in DATA_DIR
    const dataDir = join(base, 'd'.repeat(100));
    const socketDir = join(tmpdir(), `kms-pg-${clusterId(dataDir)}`);
    try {
      await mkdir(dataDir, { recursive: true });
      const server = await startEmbeddedPostgres({ dataDir });
      try {
        expect(new URL(server.url).searchParams.get('host')).toBe(socketDir);
        expect((await stat(socketDir)).mode & 0o777).toBe(0o700);
      } finally {
        await server.stop();
      }
      // Someone else's (or an open) directory under that predictable name is not used.
      await chmod(socketDir, 0o777);
      await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(
        new RegExp(`^embedded PostgreSQL: ${socketDir} \\(for its socket\\) is not a private directory`),
      );
    } finally {
      await rm(socketDir, { recursive: true, force: true });
      await rm(base, { recursive: true, force: true });
    }
  });
});
