import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, getVariableValues, parse, validate, type OperationDefinitionNode } from 'graphql';

/**
 * The README's Clients section against what it shows: the Java code is the tested clients/java/KmsOaep.java
 * (byte for byte, region by region), every curl request is a valid operation of schema.graphql
 * with valid variables and the right kind of API key, and the Swift snippet's SPKI header is
 * the real one.
 */
const root = join(__dirname, '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');
/** From "## Clients" to the next section of the same level. */
const docs = /\n## Clients[^\n]*\n[\s\S]*?(?=\n## )/.exec(read('README.md'))![0];
const java = read('clients/java/KmsOaep.java');

const CLIENT_OPERATIONS = ['activeEncryptionKey', 'generateEncryptionKey'];
const SERVICE_OPERATIONS = ['decryptData', 'setPasscode', 'verifyPasscode'];

/** The lines between `// snippet:<name> begin` and `// snippet:<name> end` of the Java file. */
function javaRegion(name: string): string {
  const match = new RegExp(`^[ \\t]*// snippet:${name} begin\\n([\\s\\S]*?)^[ \\t]*// snippet:${name} end\\n`, 'm').exec(java);
  if (!match) throw new Error(`clients/java/KmsOaep.java has no snippet:${name} region`);
  return match[1];
}

/** The fenced block right after `<!-- snippet:<name> from clients/java/KmsOaep.java ... -->`. */
function docsBlock(name: string): string {
  const match = new RegExp(`<!-- snippet:${name} from clients/java/KmsOaep\\.java[^>]*-->\\n\`\`\`java\\n([\\s\\S]*?)\`\`\`\\n`).exec(docs);
  if (!match) throw new Error(`the README's Clients section has no snippet:${name} block`);
  return match[1];
}

describe("the README's Clients section", () => {
  it.each(['imports', 'encrypt'])('shows the %s region of clients/java/KmsOaep.java byte for byte', (name) => {
    expect(docsBlock(name)).toBe(javaRegion(name));
  });

  it('shows the explicit OAEPParameterSpec, the point of the Java snippet', () => {
    expect(javaRegion('encrypt')).toContain(
      'new OAEPParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, PSource.PSpecified.DEFAULT)',
    );
    expect(javaRegion('encrypt')).toContain('cipher.init(Cipher.ENCRYPT_MODE, kmsKey, sha256);');
  });

  it('has curl requests that are valid against schema.graphql, each with the scope it needs', () => {
    const schema = buildSchema(read('schema.graphql'));
    const requests = [...docs.matchAll(/curl -sS "\$KMS"[^\n]*-H "Authorization: Bearer \$(\w+)" \\\n\s*--data '([^']*)'/g)];
    const operations = requests.map(([, apiKey, body]) => {
      const { query, variables } = JSON.parse(body) as { query: string; variables: Record<string, unknown> };
      const document = parse(query);
      expect(validate(schema, document).map((error) => error.message)).toEqual([]);
      const definition = document.definitions[0] as OperationDefinitionNode;
      const coerced = getVariableValues(schema, definition.variableDefinitions ?? [], variables);
      expect(coerced.errors?.map((error) => error.message)).toBeUndefined();
      const field = (definition.selectionSet.selections[0] as { name: { value: string } }).name.value;
      expect([field, apiKey]).toEqual([field, CLIENT_OPERATIONS.includes(field) ? 'KMS_CLIENT_KEY' : 'KMS_SERVICE_KEY']);
      return field;
    });
    expect(operations.sort()).toEqual([...CLIENT_OPERATIONS, ...SERVICE_OPERATIONS].sort());
  });

  it("has the Swift snippet strip the real RSA-2048 SPKI header", () => {
    const line = /let rsa2048SpkiHeader = Data\(\[([^\]]*)\]\)/.exec(docs);
    expect(line).not.toBeNull();
    const bytes = Buffer.from(line![1].split(',').map((hex) => Number.parseInt(hex.trim(), 16)));
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    expect(bytes).toEqual(spki.subarray(0, 24));
    expect(spki.subarray(24, 26).toString('hex')).toBe('3082'); // the PKCS#1 RSAPublicKey SEQUENCE follows
  });
});
