/** GET /health (liveness) and GET /health/ready (database reachable, migrations applied). */
export { HealthModule } from './health.module';
