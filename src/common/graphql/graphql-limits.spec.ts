import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildSchema,
  getIntrospectionQuery,
  GraphQLError,
  parse,
  specifiedRules,
  TypeInfo,
  validate,
  ValidationContext,
  ValidationRule,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import { loadConfig } from '../../config';
import { graphqlValidationRules, INTROSPECTION_MAX_DEPTH, maxFieldsRule } from './graphql-limits';

const schema = buildSchema(readFileSync(join(__dirname, '../../../schema.graphql'), 'utf8'));
const config = loadConfig({});
const ourRules = graphqlValidationRules(config);
const messages = (query: string, rules: readonly ValidationRule[] = [...specifiedRules, ...ourRules]) =>
  validate(schema, parse(query), rules).map((error) => error.message);

/** Fragments that each spread the next twice, ending in a field that no limit counts. */
const chain = (levels: number) =>
  ['{ ...F0 }', ...Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`), `fragment F${levels} on Query { __schema { queryType { name } } }`].join('\n');

/** Runs one rule alone over a document; how many times it looked a fragment up. */
function fragmentLookups(rule: ValidationRule, query: string): { lookups: number; errors: GraphQLError[] } {
  const document = parse(query);
  const typeInfo = new TypeInfo(schema);
  const errors: GraphQLError[] = [];
  const context = new ValidationContext(schema, document, typeInfo, (error) => errors.push(error));
  let lookups = 0;
  const getFragment = context.getFragment.bind(context);
  context.getFragment = (name) => ((lookups += 1), getFragment(name));
  visit(document, visitWithTypeInfo(typeInfo, rule(context)));
  return { lookups, errors };
}

describe('GraphQL validation limits', () => {
  const ruleNames = ['depth (Armor)', 'introspection depth (Armor)', 'aliases (Armor)', 'fields'];
  it.each(ourRules.map((rule, index) => [ruleNames[index], rule] as const))(
    'the %s rule looks each fragment of a chain up once, not once per path (linear, not 2^levels)',
    (_name, rule) => {
      const levels = 24;
      const { lookups } = fragmentLookups(rule, chain(levels));
      // One lookup per spread at most (2 per level): before, 2^25 for the field count.
      expect(lookups).toBeLessThanOrEqual(2 * levels + 1);
    },
  );

  it('counts fields with fragments expanded, each spread counted in full', () => {
    const query = '{ activeEncryptionKey(deviceId: "d") { ...F ...F ... on EncryptionKey { keyId } } } fragment F on EncryptionKey { keyId deviceId }';
    // activeEncryptionKey + 2 × (keyId deviceId) + keyId = 6
    expect(messages(query, [maxFieldsRule(6)])).toEqual([]);
    expect(messages(query, [maxFieldsRule(5)])).toEqual(['Operation selects more than 5 fields']);
  });

  it('counts a fragment spread in several operations for each of them', () => {
    const query = 'query A { ...F } query B { ...F __typename } fragment F on Query { __typename }';
    expect(messages(query, [maxFieldsRule(1)])).toEqual(['Operation selects more than 1 fields']);
  });

  it('lets the standard introspection query through and refuses one level deeper', () => {
    const options = { descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true, oneOf: true };
    expect(messages(getIntrospectionQuery(options))).toEqual([]);
    expect(messages(getIntrospectionQuery({ ...options, typeDepth: 7 }))).toEqual([]); // older tools
    const deeper = messages(getIntrospectionQuery({ ...options, typeDepth: 10 }));
    expect(deeper).toEqual([`Syntax Error: Query depth limit of ${INTROSPECTION_MAX_DEPTH} exceeded, found ${INTROSPECTION_MAX_DEPTH + 1}.`]);
  });

  it('keeps GRAPHQL_MAX_DEPTH for queries that do not introspect the schema', () => {
    const nested = (depth: number) => `{ __type(name: "Query") { fields { type { ${'ofType { '.repeat(depth - 4)}name${' }'.repeat(depth - 4)} } } } }`;
    expect(messages(nested(config.graphql.maxDepth))).toEqual([]);
    expect(messages(nested(config.graphql.maxDepth + 1))).toEqual([
      `Syntax Error: Query depth limit of ${config.graphql.maxDepth} exceeded, found ${config.graphql.maxDepth + 1}.`,
    ]);
  });
});
