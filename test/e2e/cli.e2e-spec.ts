import { exec } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { privateCheckout } from '../support/private-checkout';
import { createTestDatabase, TestDatabase } from '../support/test-database';

/**
 * The commands as a user runs them (`npm run -s <script>`, in a copy of the checkout
 * holding a `.env`), with nothing in the environment but PATH and HOME: they read
 * `.env` as the service does, and their stdout is their result alone.
 */
describe('the command-line tools', () => {
  let checkout: { dir: string; remove(): Promise<void> };
  let database: TestDatabase;
  const masterKeyId = `dotenv${randomBytes(3).toString('hex')}`;
  beforeAll(async () => {
    [checkout, database] = await Promise.all([privateCheckout(), createTestDatabase()]);
    await writeFile(
      join(checkout.dir, '.env'),
      `# as a developer would write it\nDATABASE_URL=${database.url}\nKMS_MASTER_KEYS=${masterKeyId}:${randomBytes(32).toString('base64')}\n`,
    );
  });
  afterAll(async () => {
    await checkout?.remove();
    await database?.drop();
  });

  /** A shell command in the copy, as typed; stdout and stderr apart. */
  const shell = (command: string) =>
    promisify(exec)(command, { cwd: checkout.dir, env: { PATH: process.env.PATH, HOME: process.env.HOME } });

  it('apikeys create writes into the database .env names, and `> file` captures the key alone', async () => {
    const { stderr } = await shell('npm run -s apikeys -- create --name from-dotenv --scopes ops > key.txt');
    const captured = await readFile(join(checkout.dir, 'key.txt'), 'utf8');
    expect(captured).toMatch(/^kms_[A-Za-z0-9_-]{43}\n$/);
    expect(stderr).toMatch(/^created [0-9a-f-]{36} \(from-dotenv: ops\); the key, shown once:$/m);
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string; scopes: string[] }>(`SELECT name, scopes FROM "ApiKey" WHERE name = 'from-dotenv'`);
      expect(rows).toEqual([{ name: 'from-dotenv', scopes: ['ops'] }]);
    } finally {
      await client.end();
    }
  });

  it('apikeys list prints the table and nothing else on stdout', async () => {
    const { stdout } = await shell('npm run -s apikeys -- list');
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^id\s+name\s+scopes\s+key\s+created\s+last used\s+state$/);
    expect(lines.slice(1).some((line) => line.includes('from-dotenv'))).toBe(true);
  });

  it('db:migrate and keys:rewrap read .env too (its database, its master key ring)', async () => {
    expect((await shell('npm run -s db:migrate')).stdout).toBe('database is up to date\n');
    expect((await shell('npm run -s keys:rewrap')).stdout).toBe(
      `re-wrapped 0 private key(s) under master key "${masterKeyId}"; 0 changed meanwhile; 0 failed\n`,
    );
  });

  it('schema:update prints only where it wrote the schema', async () => {
    const { stdout } = await shell('npm run -s schema:update -- schema.out.graphql');
    expect(stdout).toBe('schema.out.graphql written\n');
    expect(await readFile(join(checkout.dir, 'schema.out.graphql'), 'utf8')).toContain('type Query {');
  });

  it('a bad value in .env stops a command with one message naming it', async () => {
    await writeFile(join(checkout.dir, '.env'), `DATABASE_URL=${database.url}\nKEY_EXPIRY_DAYS=0\n`);
    const failed = await shell('npm run -s db:migrate').then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failed).toMatchObject({ code: 1, stdout: '' });
    expect(failed!.stderr).toMatch(/^Invalid configuration \(1 problem\):\n {2}- KEY_EXPIRY_DAYS: /);
  });
});
