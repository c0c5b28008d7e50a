import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { printSchema } from 'graphql';
import { runCli } from './cli-database';
import { withSchemaOnlyApp } from './schema-only-app';

/**
 * `npm run -s schema:update [-- <file>]`: writes schema.graphql from the code (the resolvers and
 * models), the file reviewers read and outside clients generate code from. The
 * schema test fails while the two differ. Needs no database.
 */
runCli(() =>
  withSchemaOnlyApp(async (app) => {
    const printed = `${printSchema(app.get(GraphQLSchemaHost).schema)}\n`;
    const out = process.argv[2] ?? join(__dirname, '../../schema.graphql');
    writeFileSync(out, printed);
    process.stdout.write(`${out} written\n`);
  }),
);
