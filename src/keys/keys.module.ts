import { Module } from '@nestjs/common';
import { masterKeyRingProvider } from './crypto/master-key-ring.provider';
import { PrivateKeyCache } from './crypto/private-key-cache';
import { CallerGenerationsRepository } from './caller-generations.repository';
import { GenerationBudget } from './generation-budget';
import { KeyMaintenance } from './key-maintenance';
import { KeyPool } from './key-pool';
import { KeyRowCache } from './key-row-cache';
import { KeyUsageRecorder } from './key-usage.recorder';
import { KeysRepository } from './keys.repository';
import { KeysResolver } from './keys.resolver';
import { KeysService } from './keys.service';

/** Device keys and everything stored about them (ClientEncryptionKey, KeyGeneration, CallerKeyGeneration, KeyPoolPair). */
@Module({
  providers: [
    masterKeyRingProvider,
    PrivateKeyCache,
    KeysRepository,
    CallerGenerationsRepository,
    GenerationBudget,
    KeyUsageRecorder,
    KeyRowCache,
    KeyPool,
    KeysService,
    KeyMaintenance,
    KeysResolver,
  ],
  exports: [KeysService, KeyMaintenance, KeyPool],
})
export class KeysModule {}
