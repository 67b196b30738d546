import type { UnavailableError } from "../errors.js";

export interface ErrorLogger {
  error(details: object, message: string): void;
}

/** How often a continuing outage is reported. */
const OUTAGE_REPORT_MS = 10_000;

/**
 * While the database is away every call fails the same way, and one line per
 * call would bury everything else in the log. The first failure is logged
 * with its cause; those that follow are counted, and reported as one line
 * per period for as long as they go on.
 */
export class OutageLog {
  private counted = 0;
  private latest: UnavailableError | undefined;
  private period: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: ErrorLogger,
    private readonly periodMs = OUTAGE_REPORT_MS,
  ) {}

  failed(error: UnavailableError, procedure: string): void {
    if (this.period) {
      this.counted++;
      this.latest = error;
      return;
    }
    this.logger.error({ err: error, procedure }, "database unavailable");
    this.startPeriod();
  }

  private startPeriod(): void {
    this.period = setTimeout(() => this.endPeriod(), this.periodMs).unref();
  }

  private endPeriod(): void {
    this.period = undefined;
    if (this.counted === 0) return;
    const seconds = this.periodMs / 1000;
    this.logger.error(
      { err: this.latest, failedCalls: this.counted },
      `database still unavailable: ${this.counted} more calls failed in the last ${seconds} s`,
    );
    this.counted = 0;
    this.latest = undefined;
    this.startPeriod();
  }
}
