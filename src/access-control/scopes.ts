import { SetMetadata } from '@nestjs/common';

/** API key scopes (SPEC section 6). */
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

export const REQUIRED_SCOPE = 'kms:requiredScope';

/** Every GraphQL operation declares the one scope it needs; a test fails for any that does not. */
export const RequireScope = (scope: Scope) => SetMetadata(REQUIRED_SCOPE, scope);
