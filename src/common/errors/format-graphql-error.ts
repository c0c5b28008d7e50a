import { randomUUID } from 'node:crypto';
import { HttpException } from '@nestjs/common';
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ErrorCode } from './error-code';
import { codeForHttpStatus } from './http-status';
import { KmsError } from './kms-error';

/** GraphQL's own request errors (parse, validation, variable coercion, CSRF): the caller's fault. */
const REQUEST_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'INTROSPECTION_DISABLED',
  'MAX_RECURSIVE_SELECTIONS_EXCEEDED',
]);

export interface InternalErrorReport {
  correlationId: string;
  errorName: string;
  /** Stack frames only: a message (sometimes several lines long) can carry query values. */
  frames?: string;
  prismaCode?: string;
}

/**
 * The one place that turns whatever a resolver threw into a client-facing error
 * with an `extensions.code` from the fixed set. Unknown errors become INTERNAL
 * with a correlation id; their details go to `reportInternal`, never to the client.
 */
export function formatGraphQLError(
  formatted: GraphQLFormattedError,
  error: unknown,
  reportInternal: (report: InternalErrorReport) => void,
): GraphQLFormattedError {
  const base = { locations: formatted.locations, path: formatted.path };
  const cause = unwrapResolverError(error);

  if (cause instanceof KmsError) {
    return { ...base, message: cause.message, extensions: { ...cause.extensions, code: cause.code } };
  }
  const httpCode = cause instanceof HttpException ? codeForHttpStatus(cause.getStatus()) : undefined;
  if (httpCode) {
    return { ...base, message: httpExceptionMessage(cause as HttpException), extensions: { code: httpCode } };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && REQUEST_ERROR_CODES.has(code) && !isUnexpected(cause)) {
    return { ...base, message: formatted.message, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }

  const correlationId = randomUUID();
  reportInternal({
    correlationId,
    errorName: cause instanceof Error ? cause.name : typeof cause,
    frames: cause instanceof Error ? stackFrames(cause) : undefined,
    prismaCode: (cause as { code?: unknown } | undefined)?.code?.toString(),
  });
  return {
    ...base,
    message: `Internal error (correlation id ${correlationId})`,
    extensions: { code: ErrorCode.INTERNAL, correlationId },
  };
}

/** A thrown non-GraphQL error that Apollo labelled with a request code is still ours to hide. */
function isUnexpected(cause: unknown): boolean {
  return cause instanceof Error && !(cause instanceof GraphQLError);
}

function stackFrames(error: Error): string | undefined {
  const frames = (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
  return frames.slice(0, 8).join('\n') || undefined;
}

/** ValidationPipe puts the list of broken constraints in the response body. */
function httpExceptionMessage(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'object' && response && 'message' in response) {
    const message = (response as { message: unknown }).message;
    if (Array.isArray(message)) return message.join('; ');
    if (typeof message === 'string') return message;
  }
  return exception.message;
}
