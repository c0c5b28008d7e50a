import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { DeviceKey, FetchLike, KmsClientError } from '../src/index.js';

/** One RSA-2048 pair for every fake key (the key-cache tests only look at ids). */
export function rsaPair(): { publicKeyPem: string; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  return { publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey };
}

export interface SeenRequest {
  url: string;
  operation: 'active' | 'generate' | 'other';
  variables: Record<string, any>;
  headers: Record<string, string>;
}

/**
 * The KMS GraphQL endpoint as `fetch` sees it: answers activeEncryptionKey and
 * generateEncryptionKey the way the service does (the data or `errors[].extensions`),
 * and records every request. The only thing faked in the client tests.
 */
export class FakeKms {
  readonly requests: SeenRequest[] = [];
  /** What activeEncryptionKey answers. */
  active: DeviceKey | null = null;
  /** When set, generateEncryptionKey answers RATE_LIMITED with this retryAfterSeconds. */
  rateLimitedFor?: number;
  expiresAt = '2030-01-01T00:00:00.000Z';
  private generated = 0;

  constructor(private readonly publicKeyPem: string) {}

  get operations() {
    return this.requests.map((request) => request.operation);
  }

  key(keyId: string, expiresAt: string | null = this.expiresAt): DeviceKey {
    return { keyId, publicKey: this.publicKeyPem, expiresAt };
  }

  readonly fetch: FetchLike = async (url, init) => {
    const { query, variables } = JSON.parse(String(init.body)) as { query: string; variables: Record<string, any> };
    const operation = /generateEncryptionKey\(/.test(query)
      ? 'generate'
      : /activeEncryptionKey\(/.test(query)
        ? 'active'
        : 'other';
    this.requests.push({ url, operation, variables, headers: { ...(init.headers as Record<string, string>) } });
    if (operation === 'active') return json({ data: { activeEncryptionKey: this.active } });
    if (operation === 'generate' && this.rateLimitedFor === undefined) {
      this.generated += 1;
      this.active = this.key(`generated-${this.generated}`);
      return json({ data: { generateEncryptionKey: this.active } });
    }
    if (operation === 'generate') {
      return json({
        data: null,
        errors: [
          {
            message: 'Too many keys generated for this device',
            extensions: { code: 'RATE_LIMITED', retryAfterSeconds: this.rateLimitedFor },
          },
        ],
      });
    }
    return json({ errors: [{ message: 'unknown operation', extensions: { code: 'BAD_USER_INPUT' } }] }, 400);
  };
}

export const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A clock the test moves. */
export function testClock(start = Date.parse('2029-12-01T00:00:00.000Z')) {
  let current = start;
  return { now: () => current, advance: (ms: number) => (current += ms) };
}

/** The error a promise rejects with; fails the test if it resolves. */
export const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as KmsClientError,
  );
