import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { DatabaseHealthIndicator } from './database.health';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealthIndicator,
  ) {}

  /** Liveness: the process serves HTTP. Touches no dependency, so it never flaps with them. */
  @Get()
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /** Readiness: database reachable and fully migrated. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.database.isReachable(),
      () => this.database.isMigrated(),
    ]);
  }
}
