import { Injectable, Logger } from '@nestjs/common';

/** What one run of a background job changed, by step (rows). */
export interface JobReport {
  job: 'dailyJob';
  rows: Record<string, number>;
  /** False when shutdown stopped it between batches (the next run finishes). */
  completed: boolean;
  finishedAt: Date;
}

/**
 * Background jobs announce what each run changed here; the Prometheus view (a
 * feature above telemetry) listens. Duration and failure come from the job's own
 * @Measured operation, as for every operation.
 */
@Injectable()
export class JobReports {
  private readonly logger = new Logger(JobReports.name);
  private readonly observers: ((report: JobReport) => void)[] = [];

  onReport(observer: (report: JobReport) => void) {
    this.observers.push(observer);
  }

  report(report: JobReport) {
    for (const observer of this.observers) {
      try {
        observer(report);
      } catch (error) {
        this.logger.warn({ errorName: (error as Error).name }, 'job report observer failed');
      }
    }
  }
}
