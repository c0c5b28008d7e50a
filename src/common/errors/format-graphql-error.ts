import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { HttpException } from '@nestjs/common';
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ErrorCode } from './error-code';
import { codeForHttpStatus } from './http-status';
import { asServiceUnavailable, KmsError } from './kms-error';

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

/**
 * The one log line of an INTERNAL error: no message (messages carry SQL, values,
 * hosts), and of the stack only where in this project's code it happened.
 */
export interface InternalErrorReport {
  correlationId: string;
  errorName: string;
  /**
   * Code locations (`src/keys/keys.service.ts:120:15`, innermost first) of the frames that
   * are files of this project: no function names, no dependency or Node frames, nothing
   * from the message (which can span lines that look like frames).
   */
  at?: string[];
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
  const unwrapped = unwrapResolverError(error);
  // A database that is down or restarting is not a fault of ours: retryable, said so.
  const cause = asServiceUnavailable(unwrapped) ?? unwrapped;

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
    at: cause instanceof Error ? codeLocations(cause) : undefined,
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

const PROJECT_ROOT = resolve(__dirname, '../../..');
const MAX_LOCATIONS = 8;
/** V8's frame line: `    at [name (]/absolute/file:line:column[)]`. */
const FRAME = /^ {4}at (?:.* \()?(\/[^():]+):(\d+):(\d+)\)?$/;
const projectFiles = new Map<string, boolean>();

/**
 * Where the error was thrown, in this project's files only. The stack starts with
 * `<name>: <message>`, and a message can hold any text, lines shaped like frames
 * included: those lines are skipped by the message's own length (no frames at all
 * when the stack does not start with the message), and a location is kept only
 * when it names a file that exists in this project (not under node_modules).
 */
export function codeLocations(error: Error): string[] | undefined {
  const stack = typeof error.stack === 'string' ? error.stack : '';
  const messageAt = error.message ? stack.indexOf(error.message) : stack.indexOf('\n');
  if (messageAt < 0 || !/^[\w$.]*(: )?$/.test(stack.slice(0, messageAt))) return undefined;
  const frames = stack.slice(messageAt + error.message.length).split('\n').slice(1);
  const locations: string[] = [];
  for (const line of frames) {
    const match = FRAME.exec(line);
    if (!match) continue;
    const file = relative(PROJECT_ROOT, match[1]);
    if (isAbsolute(file) || file.startsWith('..') || file.split(sep).includes('node_modules')) continue;
    if (!isProjectFile(match[1])) continue;
    locations.push(`${file}:${match[2]}:${match[3]}`);
    if (locations.length === MAX_LOCATIONS) break;
  }
  return locations.length > 0 ? locations : undefined;
}

function isProjectFile(path: string): boolean {
  let known = projectFiles.get(path);
  if (known === undefined) {
    known = existsSync(path);
    if (projectFiles.size < 10_000) projectFiles.set(path, known);
  }
  return known;
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
