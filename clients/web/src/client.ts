import { encryptJwe, encryptRaw } from './crypto.js';
import { KEY_REPLACING_CODES, KmsClientError, type KmsErrorCode } from './errors.js';
import { graphql, type FetchLike } from './graphql.js';

const KEY_FIELDS = 'keyId publicKey expiresAt';
const ACTIVE_KEY = `query ActiveEncryptionKey($deviceId: String!) {
  activeEncryptionKey(deviceId: $deviceId) { ${KEY_FIELDS} }
}`;
const GENERATE_KEY = `mutation GenerateEncryptionKey($input: GenerateEncryptionKeyInput!) {
  generateEncryptionKey(input: $input) { ${KEY_FIELDS} }
}`;
/** A cached key is replaced this long before its expiresAt. */
const EXPIRY_MARGIN_MS = 60_000;
/** When a RATE_LIMITED answer carries no retryAfterSeconds. */
const DEFAULT_RETRY_AFTER_SECONDS = 60;

/** Where the device's public key and a rate-limit deadline are kept: memory, localStorage, ... */
export interface KeyStorage {
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  set(key: string, value: string): void | Promise<void>;
  remove(key: string): void | Promise<void>;
}

/** A public key of this device, as the KMS returns it. */
export interface DeviceKey {
  keyId: string;
  /** SPKI PEM. */
  publicKey: string;
  /** ISO 8601; null for a key that never expires. */
  expiresAt: string | null;
}

/** What the device sends to its backend, which passes both to the KMS. */
export interface EncryptedPayload {
  keyId: string;
  encryptedData: string;
}

export interface KmsClientOptions {
  /** The KMS GraphQL endpoint, e.g. `https://kms.example.com/graphql`. */
  endpoint: string;
  /** A stable id of this device or browser, chosen by the app. */
  deviceId: string;
  /** An API key with the `client` scope, where the KMS wants one. Never a `service` key. */
  apiKey?: string;
  appVersion?: string;
  /** Default: memory only (a new page load asks the KMS again). */
  storage?: KeyStorage;
  /** Default: the global fetch. */
  fetch?: FetchLike;
  /** Milliseconds since the epoch. Default: Date.now. */
  now?: () => number;
  /** The KMS's MAX_ENCRYPTED_DATA_SIZE (default 2048): longer JWE is refused here. */
  maxEncryptedDataSize?: number;
}

/** What storage keeps for one device. */
interface Saved {
  key?: DeviceKey;
  /** No generation before this time (ms), after RATE_LIMITED. */
  retryAt?: number;
  /** The key the app's backend last reported as unusable: never taken again. */
  rejectedKeyId?: string;
}

export class KmsClient {
  private readonly storage: KeyStorage;
  private readonly storageKey: string;
  private readonly now: () => number;
  private pending?: Promise<DeviceKey>;

  constructor(private readonly options: KmsClientOptions) {
    this.storage = options.storage ?? memoryStorage();
    this.storageKey = `kms-client:${options.endpoint}:${options.deviceId}`;
    this.now = options.now ?? Date.now;
  }

  /**
   * The device's usable key: the cached one until it expires; otherwise the KMS's
   * activeEncryptionKey; only when there is none, generateEncryptionKey. Concurrent
   * calls share one lookup. Throws RATE_LIMITED, without asking the KMS, until
   * the retryAfterSeconds of a refused generation have passed.
   */
  getKey(): Promise<DeviceKey> {
    this.pending ??= this.resolveKey().finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** A passcode or PIN as raw RSA-OAEP-SHA256, standard base64 (at most 190 bytes of UTF-8). */
  async encryptSecret(secret: string): Promise<EncryptedPayload> {
    const key = await this.getKey();
    return { keyId: key.keyId, encryptedData: await encryptRaw(key.publicKey, secret) };
  }

  /** Data as JWE compact (RSA-OAEP-256 + A256GCM, `kid` = keyId). */
  async encryptData(data: string): Promise<EncryptedPayload> {
    const key = await this.getKey();
    const encryptedData = await encryptJwe(key.publicKey, key.keyId, data);
    const max = this.options.maxEncryptedDataSize ?? 2048;
    if (encryptedData.length > max) {
      throw new KmsClientError('PAYLOAD_TOO_LARGE', `JWE of ${encryptedData.length} characters; the KMS takes ${max}`);
    }
    return { keyId: key.keyId, encryptedData };
  }

  /**
   * Drops the cached key (given `keyId`: only if it is that one), so that the next
   * use looks again and, if the KMS still offers the dropped key, generates one.
   */
  async invalidateKey(keyId?: string): Promise<void> {
    const saved = await this.load();
    if (keyId && saved.key && keyId !== saved.key.keyId) return; // already moved on to a newer key
    await this.save({ retryAt: saved.retryAt, rejectedKeyId: keyId ?? saved.key?.keyId ?? saved.rejectedKeyId });
  }

  /**
   * Pass the error code your backend got from the KMS for this device's ciphertext.
   * True for KEY_EXPIRED, KEY_REVOKED and KEY_NOT_FOUND: the key is dropped;
   * encrypt again (with the next key) and retry once. False: nothing to do here.
   */
  async handleKmsError(code: string, keyId?: string): Promise<boolean> {
    if (!KEY_REPLACING_CODES.includes(code as KmsErrorCode)) return false;
    await this.invalidateKey(keyId);
    return true;
  }

  private async resolveKey(): Promise<DeviceKey> {
    const saved = await this.load();
    const now = this.now();
    if (saved.key && (saved.key.expiresAt === null || Date.parse(saved.key.expiresAt) - EXPIRY_MARGIN_MS > now)) {
      return saved.key;
    }
    if (saved.retryAt !== undefined && now < saved.retryAt) throw rateLimited(saved.retryAt, now);

    const { deviceId, appVersion } = this.options;
    const { activeEncryptionKey: active } = await this.call<{ activeEncryptionKey: DeviceKey | null }>(ACTIVE_KEY, {
      deviceId,
    });
    if (active && active.keyId !== saved.rejectedKeyId) return this.keep(active);
    try {
      const { generateEncryptionKey: generated } = await this.call<{ generateEncryptionKey: DeviceKey }>(
        GENERATE_KEY,
        { input: { deviceId, appVersion } },
      );
      return await this.keep(generated);
    } catch (error) {
      if (error instanceof KmsClientError && error.code === 'RATE_LIMITED') {
        const seconds = error.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
        await this.save({ rejectedKeyId: saved.rejectedKeyId, retryAt: now + seconds * 1000 });
      }
      throw error;
    }
  }

  private call<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    const fetchFn = this.options.fetch ?? ((url, init) => globalThis.fetch(url, init));
    return graphql<T>(fetchFn, this.options.endpoint, this.options.apiKey, query, variables);
  }

  private async keep(key: DeviceKey): Promise<DeviceKey> {
    const { keyId, publicKey, expiresAt } = key;
    await this.save({ key: { keyId, publicKey, expiresAt } });
    return key;
  }

  /** Storage that fails or holds garbage counts as empty: the KMS is asked again (never a generation first). */
  private async load(): Promise<Saved> {
    try {
      return (JSON.parse((await this.storage.get(this.storageKey)) ?? '{}') as Saved) ?? {};
    } catch {
      return {};
    }
  }

  private async save(saved: Saved): Promise<void> {
    try {
      if (Object.values(saved).every((value) => value === undefined)) await this.storage.remove(this.storageKey);
      else await this.storage.set(this.storageKey, JSON.stringify(saved));
    } catch {
      // Storage full or forbidden (private browsing): the key is looked up again next time.
    }
  }
}

function rateLimited(retryAt: number, now: number): KmsClientError {
  const seconds = Math.ceil((retryAt - now) / 1000);
  return new KmsClientError('RATE_LIMITED', `Key generation refused for this device; retry in ${seconds} s`, seconds);
}

/** The default storage: a Map, gone with the page. */
export function memoryStorage(): KeyStorage {
  const values = new Map<string, string>();
  return { get: (k) => values.get(k), set: (k, v) => void values.set(k, v), remove: (k) => void values.delete(k) };
}

/** Adapts localStorage or sessionStorage (keeps only public keys and a deadline: nothing secret). */
export function webStorage(storage: {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}): KeyStorage {
  return {
    get: (k) => storage.getItem(k),
    set: (k, v) => storage.setItem(k, v),
    remove: (k) => storage.removeItem(k),
  };
}
