import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { GraphQLError, Kind, SelectionSetNode, ValidationContext, ValidationRule } from 'graphql';
import type { AppConfig } from '../../config';
import { ErrorCode } from '../errors/error-code';

/**
 * The deepest schema introspection accepted (development only: production turns
 * introspection off). graphql-js 16's getIntrospectionQuery() (what GraphiQL and most
 * tools send, `typeDepth` 9) is 15 levels deep, `__schema` included; older tools' (typeDepth
 * 7) 13. Nothing deeper is needed to read this schema.
 */
export const INTROSPECTION_MAX_DEPTH = 15;

/**
 * Validation rules that bound what one operation may ask for: nesting depth and
 * aliases (GraphQL Armor's rules) and the number of field selections, counted
 * with fragments expanded (ours: Armor's cost rule weighs depth, not breadth).
 * Each one costs time linear in the document: every fragment is measured once per
 * document and remembered (Armor's rules do the same), so a chain of fragments
 * that each spread the next twice costs one visit per fragment, not 2^levels.
 * They run before authentication, on every request; the parser's token limit
 * (GRAPHQL_MAX_TOKENS) bounds the document they see.
 */
export function graphqlValidationRules(config: AppConfig): ValidationRule[] {
  // Armor throws from inside validation by default, which Apollo reports as a server
  // error; reported as a validation error instead, it reaches the client as BAD_USER_INPUT.
  const asValidationError = {
    propagateOnRejection: false,
    onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
  };
  const { maxDepth, maxAliases, maxFields } = config.graphql;
  return [
    // Queries: GRAPHQL_MAX_DEPTH, not counting what lies under `__schema` ...
    maxDepthRule({ n: maxDepth, ignoreIntrospection: true, flattenFragments: true, ...asValidationError }),
    // ... which is bounded too, by the depth tools' standard introspection query needs.
    maxDepthRule({
      n: Math.max(maxDepth, INTROSPECTION_MAX_DEPTH),
      ignoreIntrospection: false,
      flattenFragments: true,
      ...asValidationError,
    }),
    maxAliasesRule({ n: maxAliases, ...asValidationError }),
    maxFieldsRule(maxFields),
  ];
}

/** Refuses an operation that selects more than `max` fields, fragments expanded. */
export function maxFieldsRule(max: number): ValidationRule {
  return (context: ValidationContext) => {
    const counter = new FieldCounter(context, max + 1);
    return {
      OperationDefinition(operation) {
        if (counter.count(operation.selectionSet) > max) {
          context.reportError(
            new GraphQLError(`Operation selects more than ${max} fields`, { nodes: [operation] }),
          );
        }
      },
    };
  };
}

/** Reserved while a fragment is being counted: a cycle (which NoFragmentCycles reports) counts 0. */
const COUNTING = -1;

/**
 * Counts field selections with fragments expanded, up to `cap` (counts saturate
 * there: all the rule needs to know is "more than the limit"). Each fragment is
 * counted once per document and its count reused wherever it is spread.
 */
class FieldCounter {
  private readonly fragments = new Map<string, number>();

  constructor(
    private readonly context: ValidationContext,
    private readonly cap: number,
  ) {}

  count(selectionSet: SelectionSetNode): number {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (total >= this.cap) break;
      if (selection.kind === Kind.FIELD) {
        // Schema introspection (tools, development only) is bounded by depth and tokens instead.
        if (selection.name.value === '__schema') continue;
        total += 1 + (selection.selectionSet ? this.count(selection.selectionSet) : 0);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        total += this.count(selection.selectionSet);
      } else {
        total += this.fragment(selection.name.value);
      }
    }
    return Math.min(total, this.cap);
  }

  private fragment(name: string): number {
    const known = this.fragments.get(name);
    if (known !== undefined) return Math.max(known, 0);
    const fragment = this.context.getFragment(name);
    if (!fragment) return 0; // KnownFragmentNames reports it
    this.fragments.set(name, COUNTING);
    const counted = this.count(fragment.selectionSet);
    this.fragments.set(name, counted);
    return counted;
  }
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
    // The body first: most requests are no batch, and the path is then not worth cutting out.
    const batch = request.body;
    if (Array.isArray(batch) && batch.length > config.graphql.maxBatch && request.method === 'POST' && request.url.split('?')[0] === '/graphql') {
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
