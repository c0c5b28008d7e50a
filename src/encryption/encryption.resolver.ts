import { Args, Mutation, Resolver } from '@nestjs/graphql';
import { RequireScope, Scope } from '../access-control';
import { DecryptDataInput, EncryptDataInput } from './dto/data.inputs';
import { EncryptionService } from './encryption.service';
import { DecryptDataPayload, EncryptDataPayload } from './models/data-payloads.model';

@Resolver()
export class EncryptionResolver {
  constructor(private readonly encryption: EncryptionService) {}

  @RequireScope(Scope.SERVICE)
  @Mutation(() => EncryptDataPayload)
  encryptData(@Args('input') input: EncryptDataInput) {
    return this.encryption.encrypt(input.keyId, input.data);
  }

  @RequireScope(Scope.SERVICE)
  @Mutation(() => DecryptDataPayload)
  decryptData(@Args('input') input: DecryptDataInput) {
    return this.encryption.decrypt(input.keyId, input.encryptedData);
  }
}
