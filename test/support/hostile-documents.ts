/**
 * GraphQL documents built to make validation or parsing expensive: each is small
 * (a few KB at most) and, before each rule remembered what it had measured, some
 * cost time exponential in their size. Shared by test/e2e/hostile-documents and
 * bench/hostile-documents.
 */
export interface HostileDocument {
  name: string;
  query: string;
  /** The refusal expected (BAD_USER_INPUT with this message), or 'answered' for a valid document. */
  expect: RegExp | 'answered';
}

import { Lexer, Source, TokenKind } from 'graphql';

/** Lexical tokens of a document, as the parser's `maxTokens` counts them. */
export function tokenCount(query: string): number {
  const lexer = new Lexer(new Source(query));
  let count = 0;
  while (lexer.advance().kind !== TokenKind.EOF) count += 1;
  return count;
}

/** Fragments that each spread the next one twice: 2^levels selections once expanded. */
export function fragmentChain(levels: number, body = 'keyId', onType = 'EncryptionKey', leaf = body): string {
  const root = onType === 'Query' ? '{ ...F0 }' : '{ activeEncryptionKey(deviceId: "d") { ...F0 } }';
  const fragments = Array.from(
    { length: levels },
    (_, level) => `fragment F${level} on ${onType} { ${body} ...F${level + 1} ...F${level + 1} }`,
  );
  return [root, ...fragments, `fragment F${levels} on ${onType} { ${leaf} }`].join('\n');
}

const repeat = (count: number, make: (index: number) => string, separator = ' ') =>
  Array.from({ length: count }, (_, index) => make(index)).join(separator);

/** The worst chain for a rule that expands fragments: no field counted anywhere, and a valid document. */
export const introspectionChain = (levels: number) => fragmentChain(levels, '', 'Query', '__schema { queryType { name } }');

/** Every shape, sized to stay under GRAPHQL_MAX_TOKENS=1000 (the default) unless it tests that limit. */
export function hostileDocuments(levels = 40): HostileDocument[] {
  return [
    { name: 'fragment chain (fields)', query: fragmentChain(levels), expect: /more than \d+ fields/ },
    { name: 'fragment chain (aliases)', query: fragmentChain(levels, 'a: keyId'), expect: /Aliases limit/ },
    { name: 'fragment chain (typename on Query)', query: fragmentChain(levels, '__typename', 'Query'), expect: /more than \d+ fields/ },
    {
      // No field is counted under __schema: nothing to refuse, and nothing slow either.
      name: 'fragment chain ending in introspection',
      query: introspectionChain(levels),
      expect: 'answered',
    },
    {
      // Nothing counted at all, and an error only at the leaves: what froze the field count rule.
      name: 'fragment chain ending in an unknown fragment',
      query: fragmentChain(levels, '', 'Query', '...Unknown'),
      expect: /Unknown fragment/,
    },
    {
      name: 'deep nesting',
      query: `{ __type(name: "Query") { ${'ofType { '.repeat(200)}name${' }'.repeat(200)} } }`,
      expect: /depth limit/,
    },
    {
      name: 'many aliases',
      query: `{ ${repeat(80, (index) => `a${index}: encryptionKey(keyId: "k") { keyId }`)} }`,
      expect: /Aliases limit/,
    },
    {
      name: 'one fragment spread many times',
      query: `{ activeEncryptionKey(deviceId: "d") { ${'...H '.repeat(450)}} } fragment H on EncryptionKey { keyId }`,
      expect: /more than \d+ fields/,
    },
    {
      // graphql-js compares the fragments of a selection set pairwise: quadratic, bounded by the token limit.
      name: 'many distinct fragments',
      query: `{ activeEncryptionKey(deviceId: "d") { ${repeat(105, (index) => `...G${index}`)} } }\n${repeat(
        105,
        (index) => `fragment G${index} on EncryptionKey { keyId }`,
        '\n',
      )}`,
      expect: 'answered',
    },
    {
      name: 'many operations',
      query: repeat(190, (index) => `query Q${index} { __typename }`, '\n'),
      expect: /operation name/,
    },
    { name: 'too many tokens', query: `{ ${'__typename '.repeat(5000)}}`, expect: /more tha[nt] \d+ tokens/ },
  ];
}
