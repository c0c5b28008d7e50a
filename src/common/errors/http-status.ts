import { HttpStatus } from '@nestjs/common';
import { ErrorCode } from './error-code';

/**
 * The one table between HTTP statuses and error codes. The GraphQL formatter reads
 * it for errors raised as HTTP exceptions (validation pipe, body parser); the HTTP
 * filter reads it both ways (parser errors on /graphql, KmsErrors on plain routes).
 */
const STATUS_CODES: readonly [number, ErrorCode][] = [
  [HttpStatus.BAD_REQUEST, ErrorCode.BAD_USER_INPUT],
  [HttpStatus.UNAUTHORIZED, ErrorCode.UNAUTHENTICATED],
  [HttpStatus.FORBIDDEN, ErrorCode.FORBIDDEN],
  [HttpStatus.PAYLOAD_TOO_LARGE, ErrorCode.PAYLOAD_TOO_LARGE],
  [HttpStatus.UNSUPPORTED_MEDIA_TYPE, ErrorCode.BAD_USER_INPUT],
  [HttpStatus.TOO_MANY_REQUESTS, ErrorCode.RATE_LIMITED],
  [HttpStatus.SERVICE_UNAVAILABLE, ErrorCode.SERVICE_UNAVAILABLE],
];

const CODE_BY_STATUS = new Map(STATUS_CODES);
/** The first status listed for a code wins (BAD_USER_INPUT: 400, not 415). */
const STATUS_BY_CODE = new Map([...STATUS_CODES].reverse().map(([status, code]) => [code, status]));

/** The error code an HTTP status stands for, or undefined when it is not in the table. */
export function codeForHttpStatus(status: number): ErrorCode | undefined {
  return CODE_BY_STATUS.get(status);
}

/** The status a plain HTTP route answers an error code with (domain refusals not listed: 400). */
export function httpStatusForCode(code: ErrorCode): number {
  if (code === ErrorCode.INTERNAL) return HttpStatus.INTERNAL_SERVER_ERROR;
  return STATUS_BY_CODE.get(code) ?? HttpStatus.BAD_REQUEST;
}
