import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { ApolloDriverConfig } from '@nestjs/apollo';
import type { ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import type { DocumentNode } from 'graphql';
import GraphQLJSON from 'graphql-type-json';
import type { AppConfig } from '../../config';
import { formatGraphQLError } from '../errors/format-graphql-error';
import { requestOutcomePlugin } from '../logging/request-outcome.plugin';
import { graphqlValidationRules } from './graphql-limits';

const logger = new Logger('GraphQL');

/**
 * Apollo keeps each distinct query text parsed and validated. Its default store holds
 * 30 MiB by its own estimate (the JSON length of the AST), which is about 120 MiB of
 * heap for decryptData documents with the values written inline, per worker. Clients
 * that send variables use a handful of documents; 2 MiB by the same estimate keeps
 * about 1,200 such documents in about 8 MiB (measured), and a client that inlines
 * values only misses the cache (it pays parsing and validation again).
 */
export const DOCUMENT_STORE_MAX_ESTIMATED_BYTES = 2 * 1024 * 1024;

/**
 * Apollo hashes every request's query (its document store's key) through
 * @apollo/utils.createhash, which looks up `require('crypto')` on every call: about
 * 1 % of a decryptData's CPU (bench:encryption profile). Its module export, which
 * Apollo reads at each call, is pointed at node:crypto directly; same digests.
 */
export function hashQueriesWithNodeCrypto() {
  // The copy Apollo Server itself resolves (a transitive dependency).
  const path = require.resolve('@apollo/utils.createhash', { paths: [require.resolve('@apollo/server')] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const apolloHash = require(path) as { createHash: (kind: string) => unknown };
  apolloHash.createHash = (kind: string) => createHash(kind);
}

/**
 * Apollo Server settings, all derived from the validated configuration. `landingPage`:
 * what a browser's GET /graphql shows outside production (the application root passes
 * the offline explorer); none in production, and none when not given (Apollo's default
 * would load its Sandbox from a CDN).
 */
export function graphqlOptions(
  config: AppConfig,
  { landingPage }: { landingPage?: ApolloServerPlugin } = {},
): Omit<ApolloDriverConfig, 'driver'> {
  hashQueriesWithNodeCrypto();
  return {
    path: '/graphql',
    // The schema is built in memory; `npm run -s schema:update` writes schema.graphql for review.
    autoSchemaFile: true,
    sortSchema: true,
    resolvers: { JSON: GraphQLJSON },
    playground: false,
    introspection: config.graphql.introspection,
    hideSchemaDetailsFromClientErrors: config.isProduction,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    // Parsing stops at the token limit, before any validation rule sees the document.
    parseOptions: { maxTokens: config.graphql.maxTokens },
    validationRules: graphqlValidationRules(config),
    documentStore: new InMemoryLRUCache<DocumentNode>({ maxSize: DOCUMENT_STORE_MAX_ESTIMATED_BYTES }),
    allowBatchedHttpRequests: config.graphql.maxBatch > 1,
    plugins: [
      requestOutcomePlugin(),
      // Apollo installs these unless told not to. Cache control hooks every field of
      // every request (no answer here is cacheable: POST, per caller); inline traces
      // are for federated subgraphs, which this is not.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      config.isProduction || !landingPage ? ApolloServerPluginLandingPageDisabled() : landingPage,
    ],
    autoTransformHttpErrors: false,
    formatError: (formatted, error) =>
      formatGraphQLError(formatted, error, (report) => logger.error(report, 'internal error')),
    // Fastify calls context(request, reply): `req` is the raw request, the object the
    // request log line (requestLogHook) and the scope guard's caller memo live on.
    context: (request: { raw: unknown }, reply: { raw: unknown }) => ({ req: request.raw, res: reply.raw }),
  };
}
