import { ArgumentsHost, Catch, HttpException, HttpStatus } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { GqlContextType } from '@nestjs/graphql';
import type { Request, Response } from 'express';
import { ErrorCode } from './error-code';

const CODES: Partial<Record<number, ErrorCode>> = {
  [HttpStatus.PAYLOAD_TOO_LARGE]: ErrorCode.PAYLOAD_TOO_LARGE,
  [HttpStatus.BAD_REQUEST]: ErrorCode.BAD_USER_INPUT,
  [HttpStatus.UNSUPPORTED_MEDIA_TYPE]: ErrorCode.BAD_USER_INPUT,
};

/**
 * Errors raised on /graphql before GraphQL runs (body too large, malformed JSON)
 * answer in GraphQL's shape with a code from the fixed set, keeping the HTTP
 * status. Resolver errors are left to the GraphQL formatter; other routes keep
 * Nest's behaviour.
 */
@Catch()
export class GraphqlHttpErrorFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): unknown {
    if (host.getType<GqlContextType>() === 'graphql') return exception;
    const http = host.switchToHttp();
    const request = http.getRequest<Request>();
    const status = statusOf(exception);
    const code = status === undefined ? undefined : CODES[status];
    if (request.path !== '/graphql' || status === undefined || !code) {
      return super.catch(exception, host);
    }
    http.getResponse<Response>().status(status).json({
      errors: [{ message: publicMessage(status), extensions: { code } }],
    });
    return undefined;
  }
}

/** Nest's HTTP exceptions, and body-parser's http-errors (which carry `status`). */
function statusOf(exception: unknown): number | undefined {
  if (exception instanceof HttpException) return exception.getStatus();
  const { status, expose } = (exception ?? {}) as { status?: unknown; expose?: unknown };
  return typeof status === 'number' && expose === true ? status : undefined;
}

/** Fixed texts: a parser's message can quote the body. */
function publicMessage(status: number): string {
  if (status === HttpStatus.PAYLOAD_TOO_LARGE) return 'Request body too large';
  if (status === HttpStatus.UNSUPPORTED_MEDIA_TYPE) return 'Unsupported content type';
  return 'Malformed request body';
}
