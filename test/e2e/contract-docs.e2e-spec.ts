import { readFileSync } from 'node:fs';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { OperationScopes } from '../../src/access-control';
import { CONTRACT_FILE, fillGenerated, generatedSections } from '../../src/cli/contract-docs';
import { startTestApp, TestApp } from '../support/test-app';

/** docs/contract.md's generated parts against the running code (`npm run -s docs:update` rewrites them). */
describe('docs/contract.md', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('has its operations, scopes, error codes and configuration as the code has them', () => {
    const committed = readFileSync(CONTRACT_FILE, 'utf8');
    const sections = generatedSections({ schema: t.app.get(GraphQLSchemaHost).schema, scopes: t.app.get(OperationScopes).all() });
    expect(fillGenerated(committed, sections)).toBe(committed);
  });

  it('names every operation of the schema with a scope, and the codes a client must handle', () => {
    const committed = readFileSync(CONTRACT_FILE, 'utf8');
    for (const [operation, scope] of t.app.get(OperationScopes).all()) {
      expect(committed).toMatch(new RegExp(`\\| \`${operation.split('.')[1]}\` \\|[^\\n]*\\| \`${scope}\` \\|`));
    }
    for (const code of ['CIPHERTEXT_REPLAYED', 'SERVICE_UNAVAILABLE', 'RATE_LIMITED', 'INTERNAL']) {
      expect(committed).toMatch(new RegExp(`^\\| \`${code}\` \\| \\d{3} \\|`, 'm'));
    }
  });
});
