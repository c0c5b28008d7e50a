import { Module } from '@nestjs/common';
import { masterKeyRingProvider } from './crypto/master-key-ring.provider';
import { PrivateKeyCache } from './crypto/private-key-cache';
import { EncryptionResolver } from './encryption.resolver';
import { EncryptionService } from './encryption.service';
import { KeyUsageRecorder } from './key-usage.recorder';
import { KeysRepository } from './keys.repository';
import { KeysService } from './keys.service';

@Module({
  providers: [
    masterKeyRingProvider,
    PrivateKeyCache,
    KeysRepository,
    KeyUsageRecorder,
    KeysService,
    EncryptionService,
    EncryptionResolver,
  ],
  exports: [KeysService, EncryptionService, PrivateKeyCache],
})
export class EncryptionModule {}
