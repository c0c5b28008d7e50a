import { ArgumentsHost, Catch, HttpException, HttpStatus } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { GqlContextType } from '@nestjs/graphql';
import type { Request, Response } from 'express';
import { codeForHttpStatus, httpStatusForCode } from './http-status';
import { asServiceUnavailable, KmsError } from './kms-error';

/**
 * Errors outside GraphQL execution. On /graphql (body too large, malformed JSON)
 * they answer in GraphQL's shape with a code from the fixed set, keeping the HTTP
 * status. A KmsError on a plain route (the scope guard on GET /metrics) answers
 * with its code and the status the shared table gives it. Resolver errors are left
 * to the GraphQL formatter; anything else keeps Nest's behaviour.
 */
@Catch()
export class GraphqlHttpErrorFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): unknown {
    // Resolver errors go on to the GraphQL formatter; a database outage is named here already,
    // so that what GraphQL receives is our own error, whatever realm the driver's came from.
    if (host.getType<GqlContextType>() === 'graphql') return asServiceUnavailable(exception) ?? exception;
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const refusal = exception instanceof KmsError ? exception : asServiceUnavailable(exception);
    if (refusal) {
      const statusCode = httpStatusForCode(refusal.code);
      const retryAfter = refusal.extensions.retryAfterSeconds;
      if (typeof retryAfter === 'number') response.setHeader('Retry-After', String(retryAfter));
      response.status(statusCode).json({ statusCode, code: refusal.code, message: refusal.message });
      return undefined;
    }
    const status = statusOf(exception);
    const code = status === undefined ? undefined : codeForHttpStatus(status);
    if (http.getRequest<Request>().path !== '/graphql' || status === undefined || !code) {
      return super.catch(exception, host);
    }
    response.status(status).json({ errors: [{ message: publicMessage(status), extensions: { code } }] });
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
