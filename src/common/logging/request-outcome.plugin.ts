import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { describeFailure } from '../errors/kms-error';
import { requestLogFields } from './request-log';

/**
 * Notes each GraphQL request's operation name, outcome ("ok", or the error codes)
 * and the internal reasons of its failures on the HTTP request, for its log line.
 * Never variables, never messages.
 */
export function requestOutcomePlugin(): ApolloServerPlugin<{ req: object }> {
  return {
    async requestDidStart() {
      const reasons: string[] = [];
      return {
        async didEncounterErrors({ errors }) {
          for (const error of errors) {
            // Errors GraphQL raised itself (parse, validation) carry their own code as reason.
            const cause = unwrapResolverError(error);
            const code = error.extensions?.code;
            reasons.push(cause === error && typeof code === 'string' ? code : describeFailure(cause).reason);
          }
        },
        async willSendResponse({ contextValue, operationName, operation, response }) {
          const body = response.body;
          const errors = body.kind === 'single' ? body.singleResult.errors : undefined;
          const codes = [...new Set((errors ?? []).map((error) => String(error.extensions?.code)))];
          const field = operation?.selectionSet.selections.find((s) => s.kind === 'Field');
          const name = operationName ?? (field && 'name' in field ? field.name.value : 'unknown');
          const fields = requestLogFields(contextValue.req);
          // A batch of operations logs them all, in order.
          const join = (before: string | undefined, next: string) => (before ? `${before},${next}` : next);
          fields.operation = join(fields.operation, name);
          fields.outcome = join(fields.outcome, codes.length > 0 ? codes.join(',') : 'ok');
          if (reasons.length > 0) fields.reasons = join(fields.reasons, [...new Set(reasons)].join(','));
        },
      };
    },
  };
}
