import { Injectable, Logger } from '@nestjs/common';
import { Observers } from '../common';

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
  private readonly observers = new Observers<JobReport>(new Logger(JobReports.name), 'job report observer failed');

  onReport(observer: (report: JobReport) => void) {
    this.observers.add(observer);
  }

  report(report: JobReport) {
    this.observers.notify(report);
  }
}
