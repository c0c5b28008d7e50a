/**
 * Device keys: the only module that touches ClientEncryptionKey, KeyGeneration and
 * KeyPoolPair (the key pool: pairs made ahead of need, key-pool.ts).
 * Rules live in key-lifecycle.ts (TypeScript) and key-lifecycle.sql.ts (the same
 * rules as SQL); private keys at rest in crypto/ (master key ring, RSA, key cache).
 */
export { MasterKeyRing } from './crypto/master-key-ring';
export { loadMasterKeyRing } from './crypto/master-key-ring.provider';
export { KEY_ALGORITHM } from './crypto/rsa';
export { DeviceIdArgs, KeyIdArgs } from './dto/keys.inputs';
export { KeyStatus } from './key-lifecycle';
export { KeyMaintenance } from './key-maintenance';
export { KeyPool } from './key-pool';
export { KeyRecord } from './key-record';
export { rewrapPrivateKeys, RewrapCounts } from './key-rewrap';
export { GENERATION_REFUSALS } from './keys.errors';
export { KeysModule } from './keys.module';
export { KeyCountsByState } from './keys.repository';
export { DecryptionKey, EncryptionPublicKey, KeysService } from './keys.service';
export { EncryptionKey } from './models/encryption-key.model';
