import { Module } from '@nestjs/common';
import { DevPagesController } from './dev-pages.controller';

/** The demo page and the explorer's files: imported by AppModule outside production only. */
@Module({ controllers: [DevPagesController] })
export class DevPagesModule {}
