import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildSchema } from 'graphql';
import { OperationScopes } from '../../src/access-control';
import { Scope } from '../../src/access-control';
import { MIGRATIONS_DIR } from '../../src/database';
import { encryptWithWebCrypto } from '../support/clients';
import { operationDocuments } from '../support/operation-documents';
import { decrypt, errorCode, GENERATE_KEY, generateKey, newDeviceId } from '../support/operations';
import { rememberSecret } from '../support/secrets-ledger';
import { startTestApp, TestApp } from '../support/test-app';
import { createTestDatabase } from '../support/test-database';

/** Generated from the committed schema (the schema test keeps it equal to the live one). */
const schema = buildSchema(readFileSync(join(__dirname, '../../schema.graphql'), 'utf8'));
const operations = operationDocuments(schema);
const SCOPES = Object.values(Scope);
const ACCESS_CODES = ['UNAUTHENTICATED', 'FORBIDDEN'];
/** What a caller past the access check may get with made-up arguments: success, or a refusal of the arguments. */
const PASSED_ACCESS = [undefined, 'BAD_USER_INPUT', 'KEY_NOT_FOUND', 'DECRYPTION_FAILED', 'PAYLOAD_TOO_LARGE'];

const CREATE_API_KEY = `mutation Create($input: CreateApiKeyInput!) { createApiKey(input: $input) { id name scopes key } }`;
const REVOKE_API_KEY = `mutation Revoke($id: ID!) { revokeApiKey(id: $id) }`;
const LIST_API_KEYS = `query { apiKeys { id name scopes prefix createdAt lastUsedAt revokedAt } }`;

describe('access control', () => {
  let t: TestApp;
  let declared: ReadonlyMap<string, Scope | undefined>;
  beforeAll(async () => {
    t = await startTestApp();
    declared = t.app.get(OperationScopes).all();
  });
  afterAll(() => t.close());

  it('knows a scope for exactly the operations of the schema', () => {
    expect(operations.length).toBeGreaterThanOrEqual(8);
    expect([...declared.keys()].sort()).toEqual(operations.map((operation) => operation.name).sort());
  });

  it('gives each operation the scope docs/contract.md assigns (a new operation must be placed here)', () => {
    const bySpec: Record<Scope, string[]> = {
      [Scope.CLIENT]: ['Mutation.generateEncryptionKey', 'Query.encryptionKey', 'Query.activeEncryptionKey'],
      [Scope.SERVICE]: [
        'Mutation.encryptData', 'Mutation.decryptData',
        'Mutation.setPasscode', 'Mutation.verifyPasscode', 'Mutation.changePasscode',
        'Mutation.setTransactionPin', 'Mutation.verifyTransactionPin', 'Mutation.changeTransactionPin',
      ],
      [Scope.OPS]: ['Query.getEncryptionMetricsSummary', 'Query.encryptionMetricsSummary'],
      [Scope.ADMIN]: [
        'Mutation.runKeyRotation', 'Mutation.rotateDeviceKey', 'Mutation.revokeEncryptionKey',
        'Mutation.createApiKey', 'Mutation.revokeApiKey', 'Query.apiKeys',
      ],
    };
    const expected = Object.fromEntries(
      Object.entries(bySpec).flatMap(([scope, names]) => names.map((name) => [name, scope])),
    );
    expect(Object.fromEntries(declared)).toEqual(expected);
  });

  describe.each(operations)('$name', ({ name, document }) => {
    const scope = () => declared.get(name)!;

    it('refuses callers without the declared scope', async () => {
      const required = scope();
      expect(SCOPES).toContain(required);
      const anonymous = await t.gql(document);
      if (required === Scope.CLIENT) expect(ACCESS_CODES).not.toContain(errorCode(anonymous));
      else expect(errorCode(anonymous)).toBe('UNAUTHENTICATED');

      for (const other of SCOPES.filter((candidate) => candidate !== required)) {
        const response = await t.gql(document, undefined, t.as(other));
        expect({ with: other, code: errorCode(response) }).toEqual({ with: other, code: 'FORBIDDEN' });
        expect(Object.values(response.data ?? {}).filter((value) => value !== null)).toEqual([]);
      }
      const unknown = await t.gql(document, undefined, { authorization: 'Bearer kms_not-a-key' });
      expect(errorCode(unknown)).toBe('UNAUTHENTICATED');
    });

    it('lets a caller with the declared scope through to an answer: data or a domain error, never INTERNAL', async () => {
      const response = await t.gql(document, undefined, t.as(scope()));
      expect(PASSED_ACCESS).toContain(errorCode(response));
    });
  });

  it('refuses anonymous client operations when ALLOW_ANONYMOUS_CLIENTS=false', async () => {
    const closed = await startTestApp({ env: { ALLOW_ANONYMOUS_CLIENTS: 'false' } });
    try {
      const input = { input: { deviceId: newDeviceId() } };
      expect(errorCode(await closed.gql(GENERATE_KEY, input))).toBe('UNAUTHENTICATED');
      expect((await closed.gql(GENERATE_KEY, input, closed.as('client'))).errors).toBeUndefined();
    } finally {
      await closed.close();
    }
  });

  it('never lets an anonymous caller decrypt, whatever ALLOW_ANONYMOUS_CLIENTS says', async () => {
    const key = await generateKey(t, newDeviceId());
    const encryptedData = await encryptWithWebCrypto(key.publicKey, 'not for anonymous eyes');
    expect(errorCode(await decrypt(t, { keyId: key.keyId, encryptedData }, {}))).toBe('UNAUTHENTICATED');
    expect(errorCode(await decrypt(t, { keyId: key.keyId, encryptedData }, t.as('client')))).toBe('FORBIDDEN');
  });

  it('refuses a malformed Authorization header even for client operations', async () => {
    for (const authorization of ['Bearer', 'Basic dXNlcjpwYXNz', 'Bearer two words', `Bearer ${'x'.repeat(600)}`]) {
      const response = await t.gql(GENERATE_KEY, { input: { deviceId: newDeviceId() } }, { authorization });
      expect({ authorization: authorization.slice(0, 20), code: errorCode(response) }).toEqual({
        authorization: authorization.slice(0, 20),
        code: 'UNAUTHENTICATED',
      });
    }
  });

  it('creates a key shown once, stores only its hash, lists it without it, and revokes it at once', async () => {
    const created = await t.gql(CREATE_API_KEY, { input: { name: 'payments-backend', scopes: ['service', 'ops'] } }, t.as('admin'));
    const { id, key, scopes } = created.data!.createApiKey;
    rememberSecret(key);
    expect(key).toMatch(/^kms_[A-Za-z0-9_-]{43}$/);
    expect(scopes).toEqual(['service', 'ops']);

    const [row] = await t.prisma.$queryRaw<Record<string, unknown>[]>`SELECT * FROM "ApiKey" WHERE id = ${id}`;
    expect(JSON.stringify(row)).not.toContain(key);
    expect(row.keyHash).toMatch(/^[0-9a-f]{64}$/);

    const listed = await t.gql(LIST_API_KEYS, undefined, t.as('admin'));
    expect(JSON.stringify(listed)).not.toContain(key);
    expect(JSON.stringify(listed)).not.toContain(row.keyHash as string);
    expect(listed.data!.apiKeys).toContainEqual(expect.objectContaining({ id, name: 'payments-backend', prefix: key.slice(0, 12), revokedAt: null }));

    const bearer = { authorization: `Bearer ${key}` };
    const deviceKey = await generateKey(t, newDeviceId());
    const ciphertext = await encryptWithWebCrypto(deviceKey.publicKey, 'revocation check');
    expect((await decrypt(t, { keyId: deviceKey.keyId, encryptedData: ciphertext }, bearer)).errors).toBeUndefined();

    expect((await t.gql(REVOKE_API_KEY, { id }, t.as('admin'))).data).toEqual({ revokeApiKey: true });
    const again = await decrypt(t, { keyId: deviceKey.keyId, encryptedData: await encryptWithWebCrypto(deviceKey.publicKey, 'revocation check') }, bearer);
    expect(errorCode(again)).toBe('UNAUTHENTICATED');
    expect((await t.gql(REVOKE_API_KEY, { id }, t.as('admin'))).data).toEqual({ revokeApiKey: true });
    expect(errorCode(await t.gql(REVOKE_API_KEY, { id: 'no-such-id' }, t.as('admin')))).toBe('KEY_NOT_FOUND');
  });

  it.each([
    ['no scopes', { name: 'x', scopes: [] }],
    ['an unknown scope', { name: 'x', scopes: ['root'] }],
    ['a repeated scope', { name: 'x', scopes: ['ops', 'ops'] }],
    ['an empty name', { name: '', scopes: ['ops'] }],
    ['a name with a control character', { name: 'a\nb', scopes: ['ops'] }],
  ])('refuses to create a key with %s (BAD_USER_INPUT), creating nothing', async (_, input) => {
    const before = await t.prisma.apiKey.count();
    expect(errorCode(await t.gql(CREATE_API_KEY, { input }, t.as('admin')))).toBe('BAD_USER_INPUT');
    expect(await t.prisma.apiKey.count()).toBe(before);
  });
});

describe('the bootstrap admin key (KMS_BOOTSTRAP_ADMIN_KEY)', () => {
  it('is created on a fresh deployment, ignored once admin keys exist, and stays revoked', async () => {
    const database = await createTestDatabase();
    const bootstrap = `bootstrap-${'b'.repeat(40)}`;
    rememberSecret(bootstrap);
    const bearer = { authorization: `Bearer ${bootstrap}` };
    try {
      await database.drop();
      const fresh = await createTestDatabase();
      Object.assign(database, fresh);
      const first = await startTestApp({ database, env: { KMS_BOOTSTRAP_ADMIN_KEY: bootstrap } });
      const listed = await first.gql(LIST_API_KEYS, undefined, bearer);
      const bootstrapRow = listed.data!.apiKeys.find((key: { name: string }) => key.name === 'bootstrap-admin');
      expect(bootstrapRow).toMatchObject({ scopes: ['admin'], revokedAt: null });
      await first.gql(REVOKE_API_KEY, { id: bootstrapRow.id }, first.as('admin'));
      expect(errorCode(await first.gql(LIST_API_KEYS, undefined, bearer))).toBe('UNAUTHENTICATED');
      await first.close();

      const restarted = await startTestApp({ database, env: { KMS_BOOTSTRAP_ADMIN_KEY: bootstrap } });
      expect(errorCode(await restarted.gql(LIST_API_KEYS, undefined, bearer))).toBe('UNAUTHENTICATED');
      const other = `other-${'c'.repeat(40)}`;
      await restarted.close();
      const withOther = await startTestApp({ database, env: { KMS_BOOTSTRAP_ADMIN_KEY: other } });
      expect(errorCode(await withOther.gql(LIST_API_KEYS, undefined, { authorization: `Bearer ${other}` }))).toBe('UNAUTHENTICATED');
      await withOther.close();
    } finally {
      await database.drop();
    }
  });
});

describe('a chosen API key (KMS_BOOTSTRAP_ADMIN_KEY): nothing of it stored', () => {
  const chosen = `chosen-by-a-person-${randomBytes(8).toString('hex')}-hunter2-summer`;
  rememberSecret(chosen);
  const bearer = { authorization: `Bearer ${chosen}` };
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  /** Every 6-character piece of the chosen key: none may appear in what is stored. */
  const pieces = Array.from({ length: chosen.length - 5 }, (_, index) => chosen.slice(index, index + 6));

  it('is stored as a keyed hash, no prefix, and listed without one', async () => {
    const t = await startTestApp({ database: await createTestDatabase(), env: { KMS_BOOTSTRAP_ADMIN_KEY: chosen } });
    try {
      const row = await t.prisma.apiKey.findFirstOrThrow({ where: { name: 'bootstrap-admin' } });
      expect(row.prefix).toBe('');
      expect(row.keyHash).toMatch(/^hmac1\.0\.[0-9a-f]{64}$/);
      expect(row.keyHash).not.toContain(sha256(chosen));
      const stored = JSON.stringify(row);
      expect(pieces.filter((piece) => stored.includes(piece))).toEqual([]);
      const listed = await t.gql(LIST_API_KEYS, undefined, bearer);
      expect(listed.data!.apiKeys).toContainEqual(expect.objectContaining({ name: 'bootstrap-admin', prefix: '' }));
    } finally {
      await t.close();
    }
  });

  it('an existing bootstrap row (plain SHA-256 and a prefix) loses its prefix in the migration, keeps working, and is re-hashed on its next use', async () => {
    const t = await startTestApp();
    try {
      // As the service stored it before: its SHA-256, and its first 12 characters in clear.
      await t.prisma.apiKey.create({
        data: { name: 'bootstrap-admin', keyHash: sha256(chosen), prefix: chosen.slice(0, 12), scopes: ['admin'], createdAt: new Date() },
      });
      const migration = readFileSync(join(MIGRATIONS_DIR, '20261202000000_chosen_api_key_prefix', 'migration.sql'), 'utf8');
      await t.prisma.$executeRawUnsafe(migration);
      expect(await t.prisma.apiKey.findFirstOrThrow({ where: { name: 'bootstrap-admin' } })).toMatchObject({ prefix: '', keyHash: sha256(chosen) });

      expect((await t.gql(LIST_API_KEYS, undefined, bearer)).errors).toBeUndefined();
      const row = await t.prisma.apiKey.findFirstOrThrow({ where: { name: 'bootstrap-admin' } });
      expect(row.keyHash).toMatch(/^hmac1\.0\./);
      expect((await t.gql(LIST_API_KEYS, undefined, bearer)).errors).toBeUndefined();
      // Generated keys keep their SHA-256 and prefix.
      const generated = await t.prisma.apiKey.findFirstOrThrow({ where: { name: 'test-admin' } });
      expect(generated.keyHash).toMatch(/^[0-9a-f]{64}$/);
      expect(generated.prefix).toMatch(/^kms_.{8}$/);
    } finally {
      await t.close();
    }
  });

  it('follows a pepper rotation: found under the old pepper, re-hashed under the new one', async () => {
    const database = await createTestDatabase();
    const oldPepper = randomBytes(32).toString('base64');
    const first = await startTestApp({ database, env: { KMS_BOOTSTRAP_ADMIN_KEY: chosen, AUTH_PEPPER: oldPepper } });
    await first.close();
    const rotated = await startTestApp({ database, env: { AUTH_PEPPER: `next:${randomBytes(32).toString('base64')},0:${oldPepper}` } });
    try {
      expect((await rotated.gql(LIST_API_KEYS, undefined, bearer)).errors).toBeUndefined();
      expect((await rotated.prisma.apiKey.findFirstOrThrow({ where: { name: 'bootstrap-admin' } })).keyHash).toMatch(/^hmac1\.next\./);
    } finally {
      await rotated.close();
      await database.drop();
    }
  });
});

describe('npm run apikeys (command line)', () => {
  const cli = (database: { url: string }, ...args: string[]) =>
    promisify(execFile)(process.execPath, ['-r', '@swc-node/register', 'src/cli/api-keys.ts', ...args], {
      cwd: join(__dirname, '../..'),
      env: { PATH: process.env.PATH, DATABASE_URL: database.url },
    });

  it('creates (printing the key once), lists (never the key) and revokes', async () => {
    const t = await startTestApp();
    try {
      const created = await cli(t.database, 'create', '--name', 'cli-made', '--scopes', 'service,ops');
      const key = created.stdout.trim();
      rememberSecret(key);
      expect(key).toMatch(/^kms_[A-Za-z0-9_-]{43}$/);
      expect(created.stderr).toMatch(/^created [0-9a-f-]{36} \(cli-made: service, ops\)/m);
      const id = /^created ([0-9a-f-]{36})/m.exec(created.stderr)![1];

      const listed = await cli(t.database, 'list');
      expect(listed.stdout).toContain('cli-made');
      expect(listed.stdout).toContain(`${key.slice(0, 12)}…`);
      expect(listed.stdout).not.toContain(key);

      expect((await t.gql(LIST_API_KEYS, undefined, { authorization: `Bearer ${key}` })).errors?.[0].extensions.code).toBe('FORBIDDEN');
      await cli(t.database, 'revoke', id);
      expect(errorCode(await t.gql(LIST_API_KEYS, undefined, { authorization: `Bearer ${key}` }))).toBe('UNAUTHENTICATED');
      expect((await cli(t.database, 'list')).stdout).toMatch(/cli-made.*revoked/);

      await expect(cli(t.database, 'create', '--name', 'x', '--scopes', 'root')).rejects.toMatchObject({ code: 1 });
      await expect(cli(t.database, 'frobnicate')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('usage') });
    } finally {
      await t.close();
    }
  });
});
