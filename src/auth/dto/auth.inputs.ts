import { Field, ID, InputType } from '@nestjs/graphql';
import { IsString, Length, Matches } from 'class-validator';
import { KEY_ID_MAX, PRINTABLE } from '../../common/validation/identifiers';

const CIPHERTEXT = 'Encrypted with the key (SPEC section 3): base64 RSA-OAEP-SHA256, or JWE compact. Single use.';

/** Whose credential, and the device key the secrets are encrypted with (required here). */
@InputType({ isAbstract: true })
abstract class CredentialInput {
  @Field()
  @IsString()
  @Length(1, 128)
  @Matches(PRINTABLE, { message: 'userId must be printable ASCII without surrounding spaces' })
  userId!: string;

  @Field(() => ID)
  @IsString()
  @Length(1, KEY_ID_MAX)
  @Matches(PRINTABLE, { message: 'keyId must be printable ASCII' })
  keyId!: string;
}

@InputType({ isAbstract: true })
abstract class PasscodeInput extends CredentialInput {
  /** Size is checked by the service (PAYLOAD_TOO_LARGE) before any cryptography. */
  @Field({ description: CIPHERTEXT })
  @IsString()
  encryptedPasscode!: string;
}

@InputType({ isAbstract: true })
abstract class PinInput extends CredentialInput {
  @Field({ description: CIPHERTEXT })
  @IsString()
  encryptedPin!: string;
}

@InputType()
export class SetPasscodeInput extends PasscodeInput {}

@InputType()
export class VerifyPasscodeInput extends PasscodeInput {}

@InputType()
export class ChangePasscodeInput extends CredentialInput {
  @Field({ description: CIPHERTEXT })
  @IsString()
  encryptedCurrentPasscode!: string;

  @Field({ description: CIPHERTEXT })
  @IsString()
  encryptedNewPasscode!: string;
}

@InputType()
export class SetTransactionPinInput extends PinInput {}

@InputType()
export class VerifyTransactionPinInput extends PinInput {}

@InputType()
export class ChangeTransactionPinInput extends CredentialInput {
  @Field({ description: CIPHERTEXT })
  @IsString()
  encryptedCurrentPin!: string;

  @Field({ description: CIPHERTEXT })
  @IsString()
  encryptedNewPin!: string;
}
