import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { providerMethods } from '../common';
import { REQUIRED_SCOPE, Scope } from './scopes';

const RESOLVER_TYPE = 'graphql:resolver_type';
const RESOLVER_NAME = 'graphql:resolver_name';
/** GraphQL's root types: their fields are the operations. */
export const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);

/**
 * Every GraphQL operation and the scope it declares, found on the resolvers.
 * The service refuses to start when an operation declares none, so an
 * unguarded operation can never be deployed.
 */
@Injectable()
export class OperationScopes implements OnModuleInit {
  private readonly scopes = new Map<string, Scope | undefined>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit() {
    for (const { name: methodName, method } of providerMethods(this.discovery, this.scanner)) {
      const rootType = Reflect.getMetadata(RESOLVER_TYPE, method) as string | undefined;
      if (!rootType || !ROOT_TYPES.has(rootType)) continue;
      const name = (Reflect.getMetadata(RESOLVER_NAME, method) as string | undefined) ?? methodName;
      this.scopes.set(`${rootType}.${name}`, this.reflector.get(REQUIRED_SCOPE, method));
    }
    const undeclared = [...this.scopes].filter(([, scope]) => !scope).map(([name]) => name);
    if (undeclared.length > 0) {
      throw new Error(`GraphQL operations without @RequireScope: ${undeclared.join(', ')}`);
    }
  }

  /** `Query.encryptionKey` → `client`, for every operation. */
  all(): ReadonlyMap<string, Scope | undefined> {
    return this.scopes;
  }
}
