/**
 * Passcode and transaction PIN (SPEC section 5): the only module that touches
 * UserCredential and ConsumedCiphertext. Rules: credential-policy.ts (what is
 * acceptable), attempts.ts (counting and lock-out), crypto/ (peppered argon2id).
 */
export { AuthMaintenance } from './auth-maintenance';
export { AuthModule } from './auth.module';
