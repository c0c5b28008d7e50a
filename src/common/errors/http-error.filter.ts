import { ArgumentsHost, Catch, HttpException, HttpStatus } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { GqlContextType } from '@nestjs/graphql';
import { requestLogFields } from '../logging/request-log';
import { ErrorCode } from './error-code';
import { codeForHttpStatus, httpStatusForCode } from './http-status';
import { asServiceUnavailable, KmsError } from './kms-error';

/**
 * Errors outside GraphQL execution. On /graphql (body too large, malformed JSON)
 * they answer in GraphQL's shape with a code from the fixed set, keeping the HTTP
 * status. A KmsError on a plain route (the scope guard on GET /metrics) answers
 * with its code and the status the shared table gives it. Nest's HTTP exceptions
 * (a health check's 503) keep Nest's answer. Anything else on a plain route (a
 * parser's refusal, a bug) answers a fixed text, never the error's message (a
 * parser's can quote the body), and is logged once: on the request's own line, as
 * the error's name beside the request id (the correlation id the answer gives),
 * never with a stack. Resolver errors are left to the GraphQL formatter.
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
    const request = http.getRequest<{ id?: string; raw?: object }>();
    const status = statusOf(exception);
    const code = status === undefined ? undefined : codeForHttpStatus(status);
    const path = String(adapter.getRequestUrl(request)).split('?')[0];
    if (path === '/graphql' && status !== undefined && code) {
      adapter.reply(http.getResponse(), { errors: [{ message: publicMessage(status), extensions: { code } }] }, status);
      return undefined;
    }
    requestLogFields(request.raw ?? request).errorName = errorNameOf(exception);
    // Nest's own exceptions are answers (a health check's 503); a bare HttpException is
    // how Nest passes on a Fastify error (the body parser's), whose text we replace.
    if (exception instanceof HttpException && exception.constructor !== HttpException) return super.catch(exception, host);
    if (status === undefined) {
      const body = { statusCode: 500, code: ErrorCode.INTERNAL, message: `Internal error (correlation id ${request.id})` };
      adapter.reply(http.getResponse(), body, HttpStatus.INTERNAL_SERVER_ERROR);
    } else {
      adapter.reply(http.getResponse(), { statusCode: status, code, message: publicMessage(status) }, status);
    }
    return undefined;
  }
}

/** What the log may say of an error: its class name or code, never its message. */
function errorNameOf(exception: unknown): string {
  const { name, code } = (exception ?? {}) as { name?: unknown; code?: unknown };
  return typeof code === 'string' ? code : typeof name === 'string' ? name : typeof exception;
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
  if (status === HttpStatus.BAD_REQUEST) return 'Malformed request body';
  return 'Request refused';
}
