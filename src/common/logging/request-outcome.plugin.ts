import type { ApolloServerPlugin } from '@apollo/server';
import type { CallerRequest } from '../auth/caller';

/** What the request log line reports about a GraphQL request (set by the plugin below). */
export interface LoggedRequest extends CallerRequest {
  graphql?: { operation: string; outcome: string };
}

/**
 * Notes each GraphQL request's operation name and outcome ("ok", or the error
 * codes) on the HTTP request, where the request log line (pino-http) picks them
 * up together with the caller's key name. Never variables, never messages.
 */
export function requestOutcomePlugin(): ApolloServerPlugin<{ req: LoggedRequest }> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, operationName, operation, response }) {
          const body = response.body;
          const errors = body.kind === 'single' ? body.singleResult.errors : undefined;
          const codes = [...new Set((errors ?? []).map((error) => String(error.extensions?.code)))];
          const field = operation?.selectionSet.selections.find((s) => s.kind === 'Field');
          const name = operationName ?? (field && 'name' in field ? field.name.value : 'unknown');
          const outcome = codes.length > 0 ? codes.join(',') : 'ok';
          const request = contextValue.req;
          // A batch of operations logs them all, in order.
          request.graphql = request.graphql
            ? { operation: `${request.graphql.operation},${name}`, outcome: `${request.graphql.outcome},${outcome}` }
            : { operation: name, outcome };
        },
      };
    },
  };
}
