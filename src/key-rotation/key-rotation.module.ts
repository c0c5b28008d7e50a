import { Module } from '@nestjs/common';
import { EncryptionModule } from '../encryption/encryption.module';
import { AdvisoryLock } from './advisory-lock';
import { KeyOperationsRepository } from './key-operations.repository';
import { KeyOperationsService } from './key-operations.service';
import { KeyRotationRepository } from './key-rotation.repository';
import { KeyRotationResolver } from './key-rotation.resolver';
import { KeyRotationScheduler } from './key-rotation.scheduler';
import { KeyRotationService } from './key-rotation.service';

@Module({
  imports: [EncryptionModule],
  providers: [
    AdvisoryLock,
    KeyRotationRepository,
    KeyRotationService,
    KeyRotationScheduler,
    KeyOperationsRepository,
    KeyOperationsService,
    KeyRotationResolver,
  ],
  exports: [KeyRotationService],
})
export class KeyRotationModule {}
