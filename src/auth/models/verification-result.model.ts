import { Field, Int, ObjectType } from '@nestjs/graphql';

@ObjectType()
export class VerificationResult {
  @Field()
  valid!: boolean;

  @Field(() => Int, { description: 'Checks left before the credential locks.' })
  remainingAttempts!: number;

  @Field(() => Date, {
    nullable: true,
    description: 'Set by the failure that reaches AUTH_MAX_ATTEMPTS: no check until then.',
  })
  lockedUntil!: Date | null;
}
