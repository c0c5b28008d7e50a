import { Module } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { OperationScopes } from '../common/auth/operation-scopes';
import { ScopeGuard } from '../common/auth/scope.guard';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysResolver } from './api-keys.resolver';
import { ApiKeysService } from './api-keys.service';

/** API keys and the access control built on them (the global scope guard). */
@Module({
  imports: [DiscoveryModule],
  providers: [
    ApiKeysRepository,
    ApiKeysService,
    ApiKeysResolver,
    OperationScopes,
    { provide: APP_GUARD, useClass: ScopeGuard },
  ],
  exports: [ApiKeysService, OperationScopes],
})
export class ApiKeysModule {}
