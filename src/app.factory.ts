import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import type { AppConfig } from './config';
import { AppModule } from './app.module';

/** Builds the HTTP application (not yet listening) for main.ts. */
export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bufferLogs: true,
  });
  return configureApp(app, config);
}

/** HTTP-level settings, shared with the e2e tests (which build the module themselves). */
export function configureApp(app: NestExpressApplication, config: AppConfig): NestExpressApplication {
  app.useLogger(app.get(Logger));
  app.useBodyParser('json', { limit: config.http.bodyLimitBytes });
  app.disable('x-powered-by');
  return app;
}
