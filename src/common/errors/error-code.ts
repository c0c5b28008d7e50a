/** The fixed set of GraphQL `extensions.code` values (docs/contract.md, error codes). Nothing else reaches a client. */
export enum ErrorCode {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  RATE_LIMITED = 'RATE_LIMITED',
  KEY_NOT_FOUND = 'KEY_NOT_FOUND',
  KEY_EXPIRED = 'KEY_EXPIRED',
  KEY_REVOKED = 'KEY_REVOKED',
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
  DECRYPTION_FAILED = 'DECRYPTION_FAILED',
  WEAK_CREDENTIAL = 'WEAK_CREDENTIAL',
  CREDENTIAL_LOCKED = 'CREDENTIAL_LOCKED',
  CIPHERTEXT_REPLAYED = 'CIPHERTEXT_REPLAYED',
  SERVICE_UNAVAILABLE = 'SERVICE_UNAVAILABLE',
  INTERNAL = 'INTERNAL',
}

/** What each code tells a client, and what comes with it: docs/contract.md is generated from this. */
export const ERROR_CODE_MEANINGS: Record<ErrorCode, string> = {
  [ErrorCode.BAD_USER_INPUT]:
    'The request is malformed or an argument is refused: invalid GraphQL (parse, validation, a limit), a value out of range, a passcode or PIN already set. Do not retry unchanged.',
  [ErrorCode.UNAUTHENTICATED]: 'No API key where one is needed, a malformed `Authorization` header, or an unknown or revoked key.',
  [ErrorCode.FORBIDDEN]: 'The API key lacks the scope the operation needs.',
  [ErrorCode.RATE_LIMITED]:
    'Too many key generations for the device in the window. `retryAfterSeconds`: when the oldest one leaves the window.',
  [ErrorCode.KEY_NOT_FOUND]: 'No such key: never made, deleted, or past its retention (then gone for clients even before the daily job deletes it).',
  [ErrorCode.KEY_EXPIRED]: 'The key is past `expiresAt` or deprecated: it still decrypts, it no longer encrypts. Get the active key.',
  [ErrorCode.KEY_REVOKED]: 'The key was revoked: refused for everything.',
  [ErrorCode.PAYLOAD_TOO_LARGE]:
    'The request body is over `REQUEST_BODY_LIMIT_BYTES`, or `encryptedData` (or an `encryptData` result) over `MAX_ENCRYPTED_DATA_SIZE`.',
  [ErrorCode.DECRYPTION_FAILED]: 'The ciphertext does not decrypt with the key, whatever the reason: nothing more is said (no padding oracle).',
  [ErrorCode.WEAK_CREDENTIAL]: 'The new passcode or PIN breaks the policy (length; a PIN of one repeated digit or a straight run).',
  [ErrorCode.CREDENTIAL_LOCKED]:
    'Too many consecutive wrong attempts: the credential is locked and was not checked. `lockedUntil`: when it unlocks.',
  [ErrorCode.CIPHERTEXT_REPLAYED]:
    'This encrypted passcode or PIN was submitted before: each one is accepted once. Encrypt it again on the device.',
  [ErrorCode.SERVICE_UNAVAILABLE]:
    'The database is unreachable or restarting: nothing was done, retry. `retryAfterSeconds`: how long to wait first.',
  [ErrorCode.INTERNAL]: 'A fault on our side. `correlationId`: the id of the one log line that describes it; quote it when reporting.',
};
