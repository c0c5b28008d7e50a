/**
 * What every module shares and nothing feature-specific: the clock, the error
 * vocabulary (codes, KmsError, the HTTP status table, the GraphQL formatter),
 * GraphQL server options and limits, logging, identifier rules, the pepper ring and
 * development secrets.
 * Imports only config.
 */
export { Clock } from './clock';
export { answerClusterMetricsRequests, clusterMetricsSource } from './cluster/cluster-metrics';
export { CommonModule } from './common.module';
export { readOrCreateDevSecret } from './dev-secret-file';
export { DEV_PEPPER_FILE, loadPepperRing, PepperPurpose, PepperRing } from './secrets/pepper-ring';
export { SecretsModule } from './secrets/secrets.module';
export { ERROR_CODE_MEANINGS, ErrorCode } from './errors/error-code';
export { GraphqlHttpErrorFilter } from './errors/http-error.filter';
export { codeForHttpStatus, httpStatusForCode } from './errors/http-status';
export { asServiceUnavailable, badInput, describeFailure, KmsError, KmsErrorOptions, serviceUnavailable } from './errors/kms-error';
export { RETRY_AFTER_SECONDS, UnavailableReason, unavailableReason } from './errors/unavailable';
export { batchLimitHook } from './graphql/graphql-limits';
export { graphqlOptions } from './graphql/graphql-options';
export { createLogger, logDestination, REQUEST_LOGGER, requestAbortLogHook, requestIdOf, requestLogHook } from './logging/logger-options';
export { Observers } from './observers';
export { ProviderMethod, providerMethods } from './provider-methods';
export { RequestLogFields, requestLogFields } from './logging/request-log';
export { currentRequest, RequestContext, requestContextHook } from './request-context';
export { InputValidationPipe } from './validation/input-validation.pipe';
export { IsIdentifier, isPrintableIdentifier, KEY_ID_MAX, PRINTABLE } from './validation/identifiers';
