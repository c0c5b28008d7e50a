import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { getIntrospectionQuery, isInputObjectType, isObjectType, printSchema } from 'graphql';
import { startTestApp, TestApp } from '../support/test-app';

const SCHEMA_FILE = join(__dirname, '../../schema.graphql');

describe('the GraphQL schema', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('is the committed schema.graphql (`npm run schema:update` rewrites it)', () => {
    const printed = `${printSchema(t.app.get(GraphQLSchemaHost).schema)}\n`;
    expect(printed).toBe(readFileSync(SCHEMA_FILE, 'utf8'));
  });

  it('is what `npm run schema:update` writes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kms-schema-'));
    try {
      const out = join(dir, 'schema.graphql');
      await promisify(execFile)(process.execPath, ['-r', '@swc-node/register', 'src/cli/print-schema.ts', out], {
        cwd: join(__dirname, '../..'),
        env: { PATH: process.env.PATH },
      });
      expect(await readFile(out, 'utf8')).toBe(`${printSchema(t.app.get(GraphQLSchemaHost).schema)}\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('has no type, field or argument that could carry a private key', async () => {
    const introspection = await t.gql(getIntrospectionQuery());
    const names: string[] = [];
    for (const type of introspection.data!.__schema.types) {
      names.push(type.name);
      for (const field of [...(type.fields ?? []), ...(type.inputFields ?? [])]) {
        names.push(`${type.name}.${field.name}`);
        for (const arg of field.args ?? []) names.push(`${type.name}.${field.name}(${arg.name})`);
      }
    }
    expect(names.length).toBeGreaterThan(50);
    expect(names.filter((name) => /private|secret|wrapped|master/i.test(name))).toEqual([]);
  });

  it('exposes the contract operations and EncryptionKey fields (docs/contract.md)', () => {
    const schema = t.app.get(GraphQLSchemaHost).schema;
    const fieldsOf = (name: string) => {
      const type = schema.getType(name);
      if (!isObjectType(type) && !isInputObjectType(type)) throw new Error(`${name} is missing`);
      return Object.keys(type.getFields()).sort();
    };
    expect(fieldsOf('EncryptionKey')).toEqual(
      ['algorithm', 'appVersion', 'createdAt', 'deviceId', 'expiresAt', 'keyId', 'publicKey', 'publicKeyJwk', 'status'].sort(),
    );
    expect(fieldsOf('Query')).toEqual(expect.arrayContaining(['encryptionKey', 'activeEncryptionKey']));
    expect(fieldsOf('Mutation')).toEqual(
      expect.arrayContaining(['generateEncryptionKey', 'encryptData', 'decryptData']),
    );
    expect(fieldsOf('DecryptDataInput')).toEqual(['encryptedData', 'keyId']);
    expect(fieldsOf('EncryptDataInput')).toEqual(['data', 'keyId']);
  });
});
