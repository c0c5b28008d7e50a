import { Controller, Get, NotFoundException, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { demoFile, type DevFile, explorerFile, libraryFile } from './dev-files';

/**
 * The development pages' files (DevPagesModule is loaded outside production only):
 * the device demo at /demo, the web client library it imports at /demo/lib/*.js, and the
 * GraphQL explorer's files at /explorer/* (its page is GET /graphql, see explorer-page.ts).
 * Each route serves a fixed list of names, so no request reaches another file.
 */
@Controller()
export class DevPagesController {
  @Get('demo')
  demoPage(@Res() reply: FastifyReply) {
    send(reply, demoFile('index.html'));
  }

  @Get('demo/:file')
  demoScript(@Param('file') file: string, @Res() reply: FastifyReply) {
    send(reply, demoFile(file));
  }

  @Get('demo/lib/:file')
  library(@Param('file') file: string, @Res() reply: FastifyReply) {
    send(reply, libraryFile(file));
  }

  @Get('explorer/:file')
  explorer(@Param('file') file: string, @Res() reply: FastifyReply) {
    send(reply, explorerFile(file));
  }
}

function send(reply: FastifyReply, file: DevFile | undefined) {
  if (!file) throw new NotFoundException();
  reply
    .header('content-type', file.contentType)
    .header('cache-control', 'no-cache')
    .header('x-content-type-options', 'nosniff')
    .send(file.body);
}
