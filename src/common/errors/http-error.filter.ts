import { ArgumentsHost, Catch, HttpException, HttpStatus } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { GqlContextType } from '@nestjs/graphql';
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
    const adapter = this.httpAdapterHost!.httpAdapter;
    const refusal = exception instanceof KmsError ? exception : asServiceUnavailable(exception);
    if (refusal) {
      const statusCode = httpStatusForCode(refusal.code);
      const retryAfter = refusal.extensions.retryAfterSeconds;
      const response = http.getResponse();
      if (typeof retryAfter === 'number') adapter.setHeader(response, 'Retry-After', String(retryAfter));
      adapter.reply(response, { statusCode, code: refusal.code, message: refusal.message }, statusCode);
      return undefined;
    }
    const status = statusOf(exception);
    const code = status === undefined ? undefined : codeForHttpStatus(status);
    const path = String(adapter.getRequestUrl(http.getRequest())).split('?')[0];
    if (path !== '/graphql' || status === undefined || !code) return super.catch(exception, host);
    adapter.reply(http.getResponse(), { errors: [{ message: publicMessage(status), extensions: { code } }] }, status);
    return undefined;
  }
}

/** Nest's HTTP exceptions, and Fastify's client errors (bad JSON, body too large: a `statusCode` 4xx). */
function statusOf(exception: unknown): number | undefined {
  if (exception instanceof HttpException) return exception.getStatus();
  const { statusCode } = (exception ?? {}) as { statusCode?: unknown };
  return typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500 ? statusCode : undefined;
}

/** Fixed texts: a parser's message can quote the body. */
function publicMessage(status: number): string {
  if (status === HttpStatus.PAYLOAD_TOO_LARGE) return 'Request body too large';
  if (status === HttpStatus.UNSUPPORTED_MEDIA_TYPE) return 'Unsupported content type';
  return 'Malformed request body';
}
