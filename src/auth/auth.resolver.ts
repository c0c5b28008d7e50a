import { Args, Mutation, Resolver } from '@nestjs/graphql';
import { RequireScope, Scope } from '../access-control';
import { AuthService } from './auth.service';
import { PASSCODE, TRANSACTION_PIN } from './credential-kind';
import {
  ChangePasscodeInput,
  ChangeTransactionPinInput,
  SetPasscodeInput,
  SetTransactionPinInput,
  VerifyPasscodeInput,
  VerifyTransactionPinInput,
} from './dto/auth.inputs';
import { VerificationResult } from './models/verification-result.model';

const SET = 'Stores the first one for the user; refused (BAD_USER_INPUT) when one exists.';
const VERIFY =
  'valid: false for a wrong secret (or an unknown user); CREDENTIAL_LOCKED, unchecked, while locked.';
const CHANGE = 'Replaces it when the current one is right (a counted attempt); false when it is wrong.';

@Resolver()
export class AuthResolver {
  constructor(private readonly auth: AuthService) {}

  @RequireScope(Scope.SERVICE)
  @Mutation(() => Boolean, { description: SET })
  setPasscode(@Args('input') { userId, keyId, encryptedPasscode }: SetPasscodeInput) {
    return this.auth.set(PASSCODE, userId, keyId, encryptedPasscode);
  }

  @RequireScope(Scope.SERVICE)
  @Mutation(() => VerificationResult, { description: VERIFY })
  verifyPasscode(@Args('input') { userId, keyId, encryptedPasscode }: VerifyPasscodeInput) {
    return this.auth.verify(PASSCODE, userId, keyId, encryptedPasscode);
  }

  @RequireScope(Scope.SERVICE)
  @Mutation(() => Boolean, { description: CHANGE })
  changePasscode(@Args('input') input: ChangePasscodeInput) {
    const { userId, keyId, encryptedCurrentPasscode, encryptedNewPasscode } = input;
    return this.auth.change(PASSCODE, userId, keyId, encryptedCurrentPasscode, encryptedNewPasscode);
  }

  @RequireScope(Scope.SERVICE)
  @Mutation(() => Boolean, { description: SET })
  setTransactionPin(@Args('input') { userId, keyId, encryptedPin }: SetTransactionPinInput) {
    return this.auth.set(TRANSACTION_PIN, userId, keyId, encryptedPin);
  }

  @RequireScope(Scope.SERVICE)
  @Mutation(() => VerificationResult, { description: VERIFY })
  verifyTransactionPin(@Args('input') { userId, keyId, encryptedPin }: VerifyTransactionPinInput) {
    return this.auth.verify(TRANSACTION_PIN, userId, keyId, encryptedPin);
  }

  @RequireScope(Scope.SERVICE)
  @Mutation(() => Boolean, { description: CHANGE })
  changeTransactionPin(@Args('input') input: ChangeTransactionPinInput) {
    const { userId, keyId, encryptedCurrentPin, encryptedNewPin } = input;
    return this.auth.change(TRANSACTION_PIN, userId, keyId, encryptedCurrentPin, encryptedNewPin);
  }
}
