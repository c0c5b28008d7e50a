import { Logger } from '@nestjs/common';
import type { ApolloDriverConfig } from '@nestjs/apollo';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import GraphQLJSON from 'graphql-type-json';
import type { AppConfig } from '../../config';
import { formatGraphQLError } from '../errors/format-graphql-error';
import { requestOutcomePlugin } from '../logging/request-outcome.plugin';
import { graphqlValidationRules } from './graphql-limits';

const logger = new Logger('GraphQL');

/** Apollo Server settings, all derived from the validated configuration. */
export function graphqlOptions(config: AppConfig): Omit<ApolloDriverConfig, 'driver'> {
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
    allowBatchedHttpRequests: config.graphql.maxBatch > 1,
    plugins: [
      requestOutcomePlugin(),
      config.isProduction
        ? ApolloServerPluginLandingPageDisabled()
        : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
    ],
    autoTransformHttpErrors: false,
    formatError: (formatted, error) =>
      formatGraphQLError(formatted, error, (report) => logger.error(report, 'internal error')),
    context: ({ req, res }: { req: unknown; res: unknown }) => ({ req, res }),
  };
}
