import { ErrorCode, KmsError } from '../common';

/** The errors access control raises; reasons tell operators which check refused. */
export const accessErrors = {
  /** No key where one is needed, a malformed Authorization header, an unknown or a revoked key. */
  unauthenticated: (reason: 'api-key-missing' | 'authorization-malformed' | 'api-key-unknown') =>
    new KmsError(
      ErrorCode.UNAUTHENTICATED,
      reason === 'api-key-missing'
        ? 'A valid API key is required: Authorization: Bearer <key>'
        : 'The API key is unknown or revoked',
      { reason },
    ),
  forbidden: (scope: string) =>
    new KmsError(ErrorCode.FORBIDDEN, `This API key lacks the "${scope}" scope`, { reason: 'scope-missing' }),
  undeclaredScope: () =>
    new KmsError(ErrorCode.FORBIDDEN, 'This operation declares no scope', { reason: 'scope-undeclared' }),
  /** revokeApiKey of an id that never existed: not a device key, whatever the code says. */
  apiKeyNotFound: () => new KmsError(ErrorCode.KEY_NOT_FOUND, 'API key not found', { reason: 'api-key-unknown' }),
};
