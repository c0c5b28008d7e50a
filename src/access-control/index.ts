/**
 * Access control: API keys (the ApiKey table, hash-only storage, the bootstrap key,
 * the admin mutations) and the global scope guard that every GraphQL operation and
 * scoped HTTP route passes. Features declare their scope with @RequireScope.
 */
export { AccessControlModule } from './access-control.module';
export { ApiKeyRecord } from './api-keys.repository';
export { ApiKeysService, standaloneApiKeysService } from './api-keys.service';
export { BudgetedCaller, budgetedCaller, Caller } from './caller';
export { OperationScopes } from './operation-scopes';
export { RequireScope, Scope, SCOPE_MEANINGS } from './scopes';
