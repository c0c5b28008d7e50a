import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

  it('is the committed schema.graphql (UPDATE_SCHEMA=1 rewrites it)', () => {
    const printed = `${printSchema(t.app.get(GraphQLSchemaHost).schema)}\n`;
    if (process.env.UPDATE_SCHEMA === '1') writeFileSync(SCHEMA_FILE, printed);
    expect(printed).toBe(readFileSync(SCHEMA_FILE, 'utf8'));
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

  it('exposes the SPEC section 3 operations and EncryptionKey fields', () => {
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
