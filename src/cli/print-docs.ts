import { readFileSync, writeFileSync } from 'node:fs';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { OperationScopes } from '../access-control';
import { runCli } from './cli-database';
import { CONTRACT_FILE, fillGenerated, generatedSections } from './contract-docs';
import { withSchemaOnlyApp } from './schema-only-app';

/**
 * `npm run -s docs:update`: rewrites the generated parts of docs/contract.md (operations
 * and their scopes, error codes, configuration) from the code; the rest of the file is
 * written by hand. A test fails while they differ. Needs no database.
 */
runCli(() =>
  withSchemaOnlyApp(async (app) => {
    const sections = generatedSections({ schema: app.get(GraphQLSchemaHost).schema, scopes: app.get(OperationScopes).all() });
    writeFileSync(CONTRACT_FILE, fillGenerated(readFileSync(CONTRACT_FILE, 'utf8'), sections));
    process.stdout.write(`${CONTRACT_FILE} written\n`);
  }),
);
