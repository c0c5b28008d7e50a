/**
 * The explorer's example operations, one tab each, in the order of a real flow. Each says
 * which API key scope it needs; explorer-examples.spec.ts validates each against schema.graphql.
 */
export interface ExplorerExample {
  query: string;
  variables: Record<string, unknown>;
}

const DEVICE_ID = 'explorer-device-1';

export const EXPLORER_EXAMPLES: ExplorerExample[] = [
  {
    query: `# Device (scope: client; no API key needed outside production).
# The device's usable key: ask this first, generate only when it is null.
query ActiveKey($deviceId: String!) {
  activeEncryptionKey(deviceId: $deviceId) { keyId publicKey expiresAt status }
}`,
    variables: { deviceId: DEVICE_ID },
  },
  {
    query: `# Device (scope: client). At most 5 per device per 24 hours: RATE_LIMITED then.
mutation GenerateKey($input: GenerateEncryptionKeyInput!) {
  generateEncryptionKey(input: $input) { keyId publicKey publicKeyJwk expiresAt }
}`,
    variables: { input: { deviceId: DEVICE_ID, appVersion: 'explorer' } },
  },
  {
    query: `# App backend (scope: service): paste a service key in "API key" above.
# Encrypt on the device (see /demo); a JWE names its key in "kid", so keyId may be left out.
mutation Decrypt($input: DecryptDataInput!) {
  decryptData(input: $input) { keyId data }
}`,
    variables: { input: { keyId: 'KEY_ID', encryptedData: 'BASE64_OR_JWE' } },
  },
  {
    query: `# App backend (scope: service). Every ciphertext is accepted once.
mutation VerifyPasscode($input: VerifyPasscodeInput!) {
  verifyPasscode(input: $input) { valid remainingAttempts lockedUntil }
}`,
    variables: { input: { userId: 'user-17', keyId: 'KEY_ID', encryptedPasscode: 'BASE64' } },
  },
  {
    query: `# Operations (scope: ops).
query Summary {
  encryptionMetricsSummary(timeframeHours: 24) {
    totals { total successes failures successRate }
    keys { active deprecated revoked awaitingDeletion }
  }
}`,
    variables: {},
  },
  {
    query: `# Administration (scope: admin).
query ApiKeys {
  apiKeys { id name scopes createdAt lastUsedAt revokedAt }
}`,
    variables: {},
  },
];
