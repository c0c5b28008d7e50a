import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, getVariableValues, parse, validate, type OperationDefinitionNode } from 'graphql';
import { EXPLORER_EXAMPLES } from './explorer-examples';

describe('the explorer examples', () => {
  const schema = buildSchema(readFileSync(join(__dirname, '..', '..', 'schema.graphql'), 'utf8'));

  it.each(EXPLORER_EXAMPLES.map((example) => [example.query.split('\n').find((line) => !line.startsWith('#')), example]))(
    'are valid operations of schema.graphql with valid variables: %s',
    (_name, { query, variables }) => {
      const document = parse(query);
      expect(validate(schema, document).map((error) => error.message)).toEqual([]);
      const operation = document.definitions[0] as OperationDefinitionNode;
      expect(getVariableValues(schema, operation.variableDefinitions ?? [], variables).errors).toBeUndefined();
    },
  );
});
