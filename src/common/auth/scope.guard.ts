import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlContextType, GqlExecutionContext } from '@nestjs/graphql';
import type { GraphQLResolveInfo } from 'graphql';
import { ApiKeysService } from '../../api-keys/api-keys.service';
import { APP_CONFIG } from '../../config/config.module';
import type { AppConfig } from '../../config/app-config';
import { ErrorCode } from '../errors/error-code';
import { KmsError } from '../errors/kms-error';
import type { Caller, CallerRequest } from './caller';
import { REQUIRED_SCOPE, Scope } from './scopes';

const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);

/**
 * Every GraphQL operation needs the scope it declares with @RequireScope. Missing or
 * unknown (or revoked) key: UNAUTHENTICATED. Key without the scope: FORBIDDEN.
 * Client operations are open to callers without a key when ALLOW_ANONYMOUS_CLIENTS;
 * a key that is presented must still be valid. HTTP routes are not GraphQL
 * operations and guard themselves (health is public).
 */
@Injectable()
export class ScopeGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeysService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType<GqlContextType>() !== 'graphql') return true;
    const graphql = GqlExecutionContext.create(context);
    // Field resolvers below an operation were authorised with the operation.
    if (!ROOT_TYPES.has(graphql.getInfo<GraphQLResolveInfo>().parentType.name)) return true;

    const required = this.reflector.get<Scope | undefined>(REQUIRED_SCOPE, context.getHandler());
    if (!required) throw new KmsError(ErrorCode.FORBIDDEN, 'This operation declares no scope');
    const request = graphql.getContext<{ req: CallerRequest }>().req;
    const caller = await this.callerOf(request);

    if (!caller) {
      if (required === Scope.CLIENT && this.config.access.allowAnonymousClients) return true;
      throw new KmsError(
        ErrorCode.UNAUTHENTICATED,
        'A valid API key is required: Authorization: Bearer <key>',
      );
    }
    if (!caller.scopes.includes(required)) {
      throw new KmsError(ErrorCode.FORBIDDEN, `This API key lacks the "${required}" scope`);
    }
    return true;
  }

  /** Authenticates once per HTTP request (a request may carry several operations). */
  private async callerOf(request: CallerRequest): Promise<Caller | null> {
    if (request.caller !== undefined) return request.caller;
    const presented = bearerToken(request.headers.authorization);
    if (presented === undefined) {
      request.caller = null;
      return null;
    }
    const caller = presented ? await this.apiKeys.authenticate(presented) : null;
    if (!caller) {
      throw new KmsError(ErrorCode.UNAUTHENTICATED, 'The API key is unknown or revoked');
    }
    request.caller = caller;
    return caller;
  }
}

/** The key of `Authorization: Bearer <key>`; '' for a malformed header, undefined for none. */
function bearerToken(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(Array.isArray(header) ? header[0] : header);
  return match ? match[1] : '';
}
