import { Field, ID, ObjectType } from '@nestjs/graphql';

@ObjectType()
export class EncryptDataPayload {
  @Field(() => ID)
  keyId!: string;

  @Field({ description: 'JWE compact serialization, RSA-OAEP-256 + A256GCM, kid = keyId.' })
  encryptedData!: string;
}

@ObjectType()
export class DecryptDataPayload {
  @Field(() => ID)
  keyId!: string;

  @Field({ description: 'The plaintext, UTF-8 text.' })
  data!: string;
}
