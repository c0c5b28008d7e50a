import { Module } from '@nestjs/common';
import { AuthModule } from '../auth';
import { KeysModule } from '../keys';
import { KeyRotationResolver } from './key-rotation.resolver';
import { KeyRotationScheduler } from './key-rotation.scheduler';
import { KeyRotationService } from './key-rotation.service';

/** The daily lifecycle job, its schedule, and the operator mutations on keys; owns no table. */
@Module({
  imports: [KeysModule, AuthModule],
  providers: [KeyRotationService, KeyRotationScheduler, KeyRotationResolver],
  exports: [KeyRotationService],
})
export class KeyRotationModule {}
