/**
 * Passcode and transaction PIN (docs/contract.md, passcode and transaction PIN): the only module that touches
 * UserCredential and ConsumedCiphertext. Rules: credential-policy.ts (what is
 * acceptable), attempts.ts (counting and lock-out), crypto/ (argon2id wrapped under the
 * pepper ring), credential-repepper.ts (moving every hash to the newest pepper).
 */
export { AuthMaintenance } from './auth-maintenance';
export { AuthModule } from './auth.module';
export { CHECK_REFUSALS, CheckOutcome, checkOutcomeOf, CHECKING_OPERATIONS } from './check-outcomes';
export { repepperCredentials, RepepperCounts } from './credential-repepper';
