import { Field, ID, InputType } from '@nestjs/graphql';
import { IsOptional, IsString } from 'class-validator';
import { IsIdentifier, KEY_ID_MAX } from '../../common';

@InputType()
export class EncryptDataInput {
  @Field(() => ID)
  @IsIdentifier('keyId', KEY_ID_MAX)
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
  @IsIdentifier('keyId', KEY_ID_MAX)
  keyId?: string | null;

  /** Size is checked by the service (PAYLOAD_TOO_LARGE) before any cryptography. */
  @Field({ description: 'Base64 RSA-OAEP-SHA256 ciphertext, or JWE compact.' })
  @IsString()
  encryptedData!: string;
}
