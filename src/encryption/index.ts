/**
 * Encryption: encryptData and decryptData, and the decryption the auth module
 * builds on. The accepted ciphertext formats (raw RSA-OAEP-SHA256, JWE compact)
 * and their single-use fingerprint are in crypto/ciphertext.ts. Owns no table.
 */
export { ciphertextFingerprint } from './crypto/ciphertext';
export { EncryptionModule } from './encryption.module';
export { DecryptedSecret, EncryptionService } from './encryption.service';
