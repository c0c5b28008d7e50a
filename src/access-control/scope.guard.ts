import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlContextType, GqlExecutionContext } from '@nestjs/graphql';
import type { GraphQLResolveInfo } from 'graphql';
import { ApiKeysService } from '../../api-keys/api-keys.service';
import { APP_CONFIG } from '../../config/config.module';
import type { AppConfig } from '../../config/app-config';
import { ErrorCode } from '../errors/error-code';
import { KmsError } from '../errors/kms-error';
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
      if (!required) return true;
      await this.authorize(context.switchToHttp().getRequest<CallerRequest>(), required, httpDenial);
      return true;
    }
    const graphql = GqlExecutionContext.create(context);
    // Field resolvers below an operation were authorised with the operation.
    if (!ROOT_TYPES.has(graphql.getInfo<GraphQLResolveInfo>().parentType.name)) return true;
    if (!required) throw new KmsError(ErrorCode.FORBIDDEN, 'This operation declares no scope');
    await this.authorize(graphql.getContext<{ req: CallerRequest }>().req, required, graphqlDenial);
    return true;
  }

  private async authorize(request: CallerRequest, required: Scope, deny: Denial) {
    const caller = await this.callerOf(request, deny);
    if (!caller) {
      if (required === Scope.CLIENT && this.config.access.allowAnonymousClients) return;
      throw deny(ErrorCode.UNAUTHENTICATED, 'A valid API key is required: Authorization: Bearer <key>');
    }
    if (!caller.scopes.includes(required)) {
      throw deny(ErrorCode.FORBIDDEN, `This API key lacks the "${required}" scope`);
    }
  }

  /** Authenticates once per HTTP request (a request may carry several operations). */
  private async callerOf(request: CallerRequest, deny: Denial): Promise<Caller | null> {
    if (request.caller !== undefined) return request.caller;
    const presented = bearerToken(request.headers.authorization);
    if (presented === undefined) {
      request.caller = null;
      return null;
    }
    const caller = presented ? await this.apiKeys.authenticate(presented) : null;
    if (!caller) throw deny(ErrorCode.UNAUTHENTICATED, 'The API key is unknown or revoked');
    request.caller = caller;
    return caller;
  }
}

type Denial = (code: ErrorCode.UNAUTHENTICATED | ErrorCode.FORBIDDEN, message: string) => Error;

const graphqlDenial: Denial = (code, message) => new KmsError(code, message);
const httpDenial: Denial = (code, message) =>
  code === ErrorCode.UNAUTHENTICATED ? new UnauthorizedException(message) : new ForbiddenException(message);

/** The key of `Authorization: Bearer <key>`; '' for a malformed header, undefined for none. */
function bearerToken(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(Array.isArray(header) ? header[0] : header);
  return match ? match[1] : '';
}
