import { Global, Module } from '@nestjs/common';
import { AdvisoryLock } from './advisory-lock';
import { DatabaseNotifications } from './database-notifications';
import { PrismaService } from './prisma.service';

@Global()
@Module({
  providers: [PrismaService, AdvisoryLock, DatabaseNotifications],
  exports: [PrismaService, AdvisoryLock, DatabaseNotifications],
})
export class DatabaseModule {}
