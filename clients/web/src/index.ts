export { KmsClient, memoryStorage, webStorage } from './client.js';
export type { DeviceKey, EncryptedPayload, KeyStorage, KmsClientOptions } from './client.js';
export { encryptJwe, encryptRaw, maxRawPlaintextBytes } from './crypto.js';
export { KEY_REPLACING_CODES, KmsClientError } from './errors.js';
export type { KmsErrorCode } from './errors.js';
export type { FetchLike } from './graphql.js';
