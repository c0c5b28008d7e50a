import type { KeyLifecycleFields } from './key-lifecycle';

/** A device key as other modules may know it: never its private key. */
export interface KeyRecord extends KeyLifecycleFields {
  id: string;
  deviceId: string;
  appVersion: string | null;
  /** SPKI, PEM. */
  publicKey: string;
  createdAt: Date;
}

/** With the wrapped private key (AES-256-GCM under the master key ring): inside the keys module only. */
export interface StoredKey extends KeyRecord {
  privateKey: string;
}

export interface NewKey {
  id: string;
  deviceId: string;
  appVersion: string | null;
  publicKey: string;
  privateKey: string;
  expiresAt: Date;
  createdAt: Date;
}
