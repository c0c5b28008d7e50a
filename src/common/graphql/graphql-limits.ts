import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import {
  FragmentDefinitionNode,
  GraphQLError,
  Kind,
  SelectionSetNode,
  ValidationContext,
  ValidationRule,
} from 'graphql';
import type { AppConfig } from '../../config';
import { ErrorCode } from '../errors/error-code';

/**
 * Validation rules that bound what one operation may ask for: nesting depth and
 * aliases (GraphQL Armor's rules) and the number of field selections, counted
 * with fragments expanded (ours: Armor's cost rule weighs depth, not breadth).
 */
export function graphqlValidationRules(config: AppConfig): ValidationRule[] {
  // Armor throws from inside validation by default, which Apollo reports as a server
  // error; reported as a validation error instead, it reaches the client as BAD_USER_INPUT.
  const asValidationError = {
    propagateOnRejection: false,
    onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
  };
  return [
    maxDepthRule({ n: config.graphql.maxDepth, ignoreIntrospection: true, flattenFragments: true, ...asValidationError }),
    maxAliasesRule({ n: config.graphql.maxAliases, ...asValidationError }),
    maxFieldsRule(config.graphql.maxFields),
  ];
}

export function maxFieldsRule(max: number): ValidationRule {
  return (context: ValidationContext) => ({
    OperationDefinition(operation) {
      const count = countFields(operation.selectionSet, context, new Set(), max);
      if (count > max) {
        context.reportError(
          new GraphQLError(`Operation selects more than ${max} fields`, { nodes: [operation] }),
        );
      }
    },
  });
}

/** Stops counting once past `max`, so a fragment bomb costs no more than the limit. */
function countFields(
  selectionSet: SelectionSetNode,
  context: ValidationContext,
  expanding: Set<string>,
  max: number,
): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (count > max) break;
    if (selection.kind === Kind.FIELD) {
      // Like Armor's depth rule: tools' introspection (off in production) is not counted.
      if (selection.name.value === '__schema') continue;
      count += 1;
      if (selection.selectionSet) count += countFields(selection.selectionSet, context, expanding, max - count);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      count += countFields(selection.selectionSet, context, expanding, max - count);
    } else {
      const fragment: FragmentDefinitionNode | null | undefined = context.getFragment(selection.name.value);
      if (!fragment || expanding.has(fragment.name.value)) continue; // cycles: NoFragmentCycles reports them
      expanding.add(fragment.name.value);
      count += countFields(fragment.selectionSet, context, expanding, max - count);
      expanding.delete(fragment.name.value);
    }
  }
  return count;
}

/**
 * Refuses an HTTP batch of more than GRAPHQL_MAX_BATCH operations before Apollo sees
 * it: a Fastify preHandler hook, so the body is parsed already.
 */
export function batchLimitHook(config: AppConfig) {
  return (
    request: { method: string; url: string; body?: unknown },
    reply: { code(status: number): { send(body: unknown): unknown } },
    done: () => void,
  ) => {
    const batch = request.method === 'POST' && request.url.split('?')[0] === '/graphql' && request.body;
    if (Array.isArray(batch) && batch.length > config.graphql.maxBatch) {
      reply.code(400).send({
        errors: [
          {
            message: `A batch may hold at most ${config.graphql.maxBatch} operations`,
            extensions: { code: ErrorCode.BAD_USER_INPUT },
          },
        ],
      });
      return;
    }
    done();
  };
}
