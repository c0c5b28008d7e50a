import { Field, ID, InputType } from '@nestjs/graphql';
import { IsString } from 'class-validator';
import { IsIdentifier, KEY_ID_MAX } from '../../common';

const CIPHERTEXT = 'Encrypted with the key (docs/contract.md, ciphertext formats): base64 RSA-OAEP-SHA256, or JWE compact. Single use.';

/** Whose credential, and the device key the secrets are encrypted with (required here). */
@InputType({ isAbstract: true })
abstract class CredentialInput {
  @Field()
  @IsIdentifier('userId', 128)
  userId!: string;

  @Field(() => ID)
  @IsIdentifier('keyId', KEY_ID_MAX)
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
