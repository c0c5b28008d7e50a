import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlContextType, GqlExecutionContext } from '@nestjs/graphql';
import type { GraphQLResolveInfo } from 'graphql';
import { requestLogFields } from '../common';
import { APP_CONFIG, type AppConfig } from '../config';
import { accessErrors } from './access.errors';
import { ApiKeysService } from './api-keys.service';
import type { Caller, CallerRequest } from './caller';
import { ROOT_TYPES } from './operation-scopes';
import { REQUIRED_SCOPE, Scope } from './scopes';

/**
 * Every GraphQL operation needs the scope it declares with @RequireScope. Missing or
 * unknown (or revoked) key: UNAUTHENTICATED. Key without the scope: FORBIDDEN.
 * Client operations are open to callers without a key when ALLOW_ANONYMOUS_CLIENTS;
 * a key that is presented must still be valid. HTTP routes are public (health)
 * unless they declare a scope too (GET /metrics: ops); they answer 401 / 403.
 */
@Injectable()
export class ScopeGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeysService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const required = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (context.getType<GqlContextType>() !== 'graphql') {
      if (required) await this.authorize(context.switchToHttp().getRequest<CallerRequest>(), required);
      return true;
    }
    const graphql = GqlExecutionContext.create(context);
    // Field resolvers below an operation were authorised with the operation.
    if (!ROOT_TYPES.has(graphql.getInfo<GraphQLResolveInfo>().parentType.name)) return true;
    if (!required) throw accessErrors.undeclaredScope();
    await this.authorize(graphql.getContext<{ req: CallerRequest }>().req, required);
    return true;
  }

  private async authorize(request: CallerRequest, required: Scope) {
    const caller = await this.callerOf(request);
    if (!caller) {
      if (required === Scope.CLIENT && this.config.access.allowAnonymousClients) return;
      throw accessErrors.unauthenticated('api-key-missing');
    }
    if (!caller.scopes.includes(required)) throw accessErrors.forbidden(required);
  }

  /** Authenticates once per HTTP request (a request may carry several operations). */
  private async callerOf(request: CallerRequest): Promise<Caller | null> {
    if (request.caller !== undefined) return request.caller;
    const presented = bearerToken(request.headers.authorization);
    if (presented === '') throw accessErrors.unauthenticated('authorization-malformed');
    const caller = presented === undefined ? null : await this.apiKeys.authenticate(presented);
    if (caller === null && presented !== undefined) throw accessErrors.unauthenticated('api-key-unknown');
    request.caller = caller;
    requestLogFields(request).callerKey = caller ? caller.name : 'anonymous';
    return caller;
  }
}

/** The key of `Authorization: Bearer <key>`; '' for a malformed header, undefined for none. */
function bearerToken(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(Array.isArray(header) ? header[0] : header);
  return match ? match[1] : '';
}
