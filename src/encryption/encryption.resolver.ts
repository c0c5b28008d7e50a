import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { RequireScope, Scope } from '../common/auth/scopes';
import {
  DecryptDataInput,
  DeviceIdArgs,
  EncryptDataInput,
  GenerateEncryptionKeyInput,
  KeyIdArgs,
} from './dto/encryption.inputs';
import { EncryptionService } from './encryption.service';
import { KeysService } from './keys.service';
import { DecryptDataPayload, EncryptDataPayload } from './models/data-payloads.model';
import { EncryptionKey } from './models/encryption-key.model';

@Resolver(() => EncryptionKey)
export class EncryptionResolver {
  constructor(
    private readonly keys: KeysService,
    private readonly encryption: EncryptionService,
  ) {}

  @RequireScope(Scope.CLIENT)
  @Mutation(() => EncryptionKey, { description: 'A new key pair for the device; it becomes its active key.' })
  generateEncryptionKey(@Args('input') input: GenerateEncryptionKeyInput) {
    return this.keys.generate(input.deviceId, input.appVersion ?? null);
  }

  @RequireScope(Scope.CLIENT)
  @Query(() => EncryptionKey, { nullable: true, description: 'Null when unknown or deleted.' })
  encryptionKey(@Args() { keyId }: KeyIdArgs) {
    return this.keys.findById(keyId);
  }

  @RequireScope(Scope.CLIENT)
  @Query(() => EncryptionKey, { nullable: true, description: "The device's newest usable key." })
  activeEncryptionKey(@Args() { deviceId }: DeviceIdArgs) {
    return this.keys.findActiveForDevice(deviceId);
  }

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
