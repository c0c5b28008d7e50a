import { Field, ID, ObjectType } from '@nestjs/graphql';
import GraphQLJSON from 'graphql-type-json';
import { KeyStatus } from '../key-lifecycle';

/** A device key as clients see it: public parts only, never the private key. */
@ObjectType()
export class EncryptionKey {
  @Field(() => ID)
  keyId!: string;

  @Field()
  deviceId!: string;

  @Field(() => String, { nullable: true })
  appVersion!: string | null;

  @Field({ description: 'Always "RSA-OAEP-256" (RSA-OAEP, SHA-256, MGF1-SHA-256).' })
  algorithm!: string;

  @Field({ description: 'SPKI public key, PEM.' })
  publicKey!: string;

  @Field(() => GraphQLJSON, {
    description: 'RFC 7517 JWK: kty RSA, n, e, kid = keyId, alg RSA-OAEP-256, use enc.',
  })
  publicKeyJwk!: Record<string, unknown>;

  @Field(() => KeyStatus)
  status!: KeyStatus;

  @Field(() => Date, { nullable: true })
  expiresAt!: Date | null;

  @Field()
  createdAt!: Date;
}
