import { Controller, Get, Header } from '@nestjs/common';
import { Registry } from 'prom-client';
import { PrometheusMetrics } from './prometheus.metrics';

/** GET /metrics, Prometheus text format. Open for now: access control decides later. */
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
