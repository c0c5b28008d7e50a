import { Module } from '@nestjs/common';
import { KeysModule } from '../keys';
import { EncryptionResolver } from './encryption.resolver';
import { EncryptionService } from './encryption.service';

/** encryptData / decryptData over the device keys; owns no table. */
@Module({
  imports: [KeysModule],
  providers: [EncryptionService, EncryptionResolver],
  exports: [EncryptionService],
})
export class EncryptionModule {}
