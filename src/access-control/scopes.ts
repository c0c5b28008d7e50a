import { SetMetadata } from '@nestjs/common';

/** API key scopes (docs/contract.md, access control). */
export enum Scope {
  /** Generate keys and read public keys (open to anonymous callers when ALLOW_ANONYMOUS_CLIENTS). */
  CLIENT = 'client',
  /** Encrypt, decrypt and every auth-module operation. */
  SERVICE = 'service',
  /** Metrics. */
  OPS = 'ops',
  /** Rotation, revocation and API keys. */
  ADMIN = 'admin',
}

/** What each scope is for: docs/contract.md is generated from this. */
export const SCOPE_MEANINGS: Record<Scope, string> = {
  [Scope.CLIENT]:
    'Devices: make keys and read public keys. Open to callers without an API key when `ALLOW_ANONYMOUS_CLIENTS` (default: true outside production).',
  [Scope.SERVICE]: 'Trusted backends: encrypt, decrypt, every passcode and PIN operation. Never on a device.',
  [Scope.OPS]: 'Operators: the metrics summary and `GET /metrics`.',
  [Scope.ADMIN]: 'Administrators: rotation, revocation, the daily job on demand, API keys.',
};

export const REQUIRED_SCOPE = 'kms:requiredScope';

/** Every GraphQL operation declares the one scope it needs; a test fails for any that does not. */
export const RequireScope = (scope: Scope) => SetMetadata(REQUIRED_SCOPE, scope);
