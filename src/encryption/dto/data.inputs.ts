import { ArgsType, Field, ID, InputType } from '@nestjs/graphql';
import { IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { KEY_ID_MAX, PRINTABLE } from '../../common/validation/identifiers';


@InputType()
export class GenerateEncryptionKeyInput {
  @Field()
  @IsString()
  @Length(1, 128)
  @Matches(PRINTABLE, { message: 'deviceId must be printable ASCII without surrounding spaces' })
  deviceId!: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(PRINTABLE, { message: 'appVersion must be printable ASCII without surrounding spaces' })
  appVersion?: string | null;
}

@ArgsType()
export class KeyIdArgs {
  @Field(() => ID)
  @IsString()
  @Length(1, KEY_ID_MAX)
  @Matches(PRINTABLE, { message: 'keyId must be printable ASCII' })
  keyId!: string;
}

@ArgsType()
export class DeviceIdArgs {
  @Field()
  @IsString()
  @Length(1, 128)
  @Matches(PRINTABLE, { message: 'deviceId must be printable ASCII without surrounding spaces' })
  deviceId!: string;
}

@InputType()
export class EncryptDataInput {
  @Field(() => ID)
  @IsString()
  @Length(1, KEY_ID_MAX)
  @Matches(PRINTABLE, { message: 'keyId must be printable ASCII' })
  keyId!: string;

  /** Size is checked by the service (PAYLOAD_TOO_LARGE), not here. */
  @Field({ description: 'UTF-8 text to encrypt.' })
  @IsString()
  data!: string;
}

@InputType()
export class DecryptDataInput {
  @Field(() => ID, {
    nullable: true,
    description: 'Required for raw RSA-OAEP ciphertexts; for JWE taken from kid when omitted.',
  })
  @IsOptional()
  @IsString()
  @Length(1, KEY_ID_MAX)
  @Matches(PRINTABLE, { message: 'keyId must be printable ASCII' })
  keyId?: string | null;

  /** Size is checked by the service (PAYLOAD_TOO_LARGE) before any cryptography. */
  @Field({ description: 'Base64 RSA-OAEP-SHA256 ciphertext, or JWE compact.' })
  @IsString()
  encryptedData!: string;
}
