import type { TestApp } from './test-app';

/** GraphQL documents as outside clients send them. */
export const KEY_FIELDS = `keyId deviceId appVersion algorithm publicKey publicKeyJwk status expiresAt createdAt`;

export const GENERATE_KEY = `mutation Generate($input: GenerateEncryptionKeyInput!) {
  generateEncryptionKey(input: $input) { ${KEY_FIELDS} }
}`;
export const ENCRYPTION_KEY = `query Key($keyId: ID!) { encryptionKey(keyId: $keyId) { ${KEY_FIELDS} } }`;
export const ACTIVE_KEY = `query Active($deviceId: String!) { activeEncryptionKey(deviceId: $deviceId) { ${KEY_FIELDS} } }`;
export const ENCRYPT_DATA = `mutation Encrypt($input: EncryptDataInput!) { encryptData(input: $input) { keyId encryptedData } }`;
export const DECRYPT_DATA = `mutation Decrypt($input: DecryptDataInput!) { decryptData(input: $input) { keyId data } }`;

export interface GeneratedKey {
  keyId: string;
  deviceId: string;
  appVersion: string | null;
  algorithm: string;
  publicKey: string;
  publicKeyJwk: Record<string, string>;
  status: string;
  expiresAt: string;
  createdAt: string;
}

export async function generateKey(
  t: TestApp,
  deviceId: string,
  appVersion?: string,
  headers?: Record<string, string>,
): Promise<GeneratedKey> {
  const response = await t.gql(GENERATE_KEY, { input: { deviceId, appVersion } }, headers);
  if (response.errors) throw new Error(`generateEncryptionKey failed: ${JSON.stringify(response.errors)}`);
  return response.data!.generateEncryptionKey;
}

/** decryptData as a backend with the service scope (or with the headers given). */
export async function decrypt(
  t: TestApp,
  input: { keyId?: string | null; encryptedData: string },
  headers: Record<string, string> = t.as('service'),
) {
  return t.gql<{ decryptData: { keyId: string; data: string } }>(DECRYPT_DATA, { input }, headers);
}

/** encryptData as a backend with the service scope (or with the headers given). */
export async function encrypt(
  t: TestApp,
  input: { keyId: string; data: string },
  headers: Record<string, string> = t.as('service'),
) {
  return t.gql<{ encryptData: { keyId: string; encryptedData: string } }>(ENCRYPT_DATA, { input }, headers);
}

/** The one error of a response, for assertions on its code. */
export function errorCode(response: { errors?: { extensions: Record<string, any> }[] }) {
  return response.errors?.[0]?.extensions?.code;
}

let counter = 0;
/** A device id no other test uses. */
export const newDeviceId = (label = 'device') =>
  `${label}-${process.env.JEST_WORKER_ID ?? 0}-${Date.now().toString(36)}-${(counter += 1)}`;
