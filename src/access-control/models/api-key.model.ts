import { Field, ID, ObjectType } from '@nestjs/graphql';

@ObjectType({ isAbstract: true })
abstract class ApiKeyIdentity {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field(() => [String])
  scopes!: string[];
}

/** An API key as listed: never the key, never its hash. */
@ObjectType()
export class ApiKeyInfo extends ApiKeyIdentity {
  @Field({
    description:
      'The first characters of a generated key, to recognise it; empty for a key chosen by the operator (KMS_BOOTSTRAP_ADMIN_KEY), of which nothing is stored.',
  })
  prefix!: string;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  lastUsedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;
}

/** createApiKey's result: the only time the key is shown. */
@ObjectType()
export class CreatedApiKey extends ApiKeyIdentity {
  @Field({ description: 'The API key. Shown once: store it now.' })
  key!: string;
}
