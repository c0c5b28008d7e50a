import { Controller, Get, Header } from '@nestjs/common';
import { Registry } from 'prom-client';
import { RequireScope, Scope } from '../access-control';
import { PrometheusMetrics } from './prometheus.metrics';

/** GET /metrics, Prometheus text format, for an API key with the ops scope (Prometheus: `authorization: { credentials: <key> }`). */
@RequireScope(Scope.OPS)
@Controller('metrics')
export class PrometheusController {
  constructor(private readonly metrics: PrometheusMetrics) {}

  @Get()
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  scrape() {
    return this.metrics.scrape();
  }
}
