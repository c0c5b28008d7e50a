import { Module } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { SecretsModule } from '../common';
import { ApiKeyCache } from './api-key-cache';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysResolver } from './api-keys.resolver';
import { ApiKeysService } from './api-keys.service';
import { OperationScopes } from './operation-scopes';
import { ScopeGuard } from './scope.guard';

/** API keys (the ApiKey table) and the access control built on them: the global scope guard. */
@Module({
  imports: [DiscoveryModule, SecretsModule],
  providers: [
    ApiKeysRepository,
    ApiKeyCache,
    ApiKeysService,
    ApiKeysResolver,
    OperationScopes,
    { provide: APP_GUARD, useClass: ScopeGuard },
  ],
  exports: [ApiKeysService, OperationScopes],
})
export class AccessControlModule {}
