import type { EntityManager, MikroORM } from '@boxoffice/db';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../logger.ts';

export type JobHandler = (payload: Record<string, unknown>) => Promise<void>;

/**
 * Schedules a job in the caller's transaction, so it exists exactly when the change that needs it
 * commits. A dedupe key makes scheduling the same job twice one job; scheduling it again while it
 * runs makes it run once more afterwards (the running copy's completion no longer counts).
 */
export async function enqueueJob(
  em: EntityManager,
  job: { queue: string; payload: Record<string, unknown>; runAt: Date; dedupeKey?: string },
): Promise<void> {
  await em.execute(
    `INSERT INTO jobs (queue, payload, run_at, dedupe_key) VALUES (?, ?::jsonb, ?, ?)
     ON CONFLICT (queue, dedupe_key) DO UPDATE SET run_at = EXCLUDED.run_at, done_at = NULL, attempts = 0`,
    [job.queue, JSON.stringify(job.payload), job.runAt, job.dedupeKey ?? null],
  );
}

type ClaimedJob = { id: string; queue: string; payload: Record<string, unknown>; attempts: number };

export type JobWorkerOptions = {
  orm: MikroORM;
  clock: Clock;
  log: Logger;
  handlers: Record<string, JobHandler>;
  pollMs?: number;
  batchSize?: number;
  lockSeconds?: number;
};

/**
 * A PostgreSQL-backed worker: jobs are claimed with FOR UPDATE SKIP LOCKED, so any number of
 * server instances can run workers without two of them taking the same job. A claimed job whose
 * worker died becomes claimable again when its lease (`locked_until`) runs out.
 */
export class JobWorker {
  private readonly opts: Required<JobWorkerOptions>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(opts: JobWorkerOptions) {
    // the lease outlasts the slowest job (several PayPal calls, each with timeout and retries)
    this.opts = { pollMs: 1000, batchSize: 20, lockSeconds: 300, ...opts };
  }

  start(): void {
    const tick = async () => {
      if (this.stopped) return;
      try {
        await this.runDue();
      } catch (error) {
        this.opts.log.error({ err: error }, 'job worker tick failed');
      }
      if (!this.stopped) this.timer = setTimeout(tick, this.opts.pollMs);
    };
    this.timer = setTimeout(tick, this.opts.pollMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Claims and runs every job that is due now; returns how many ran. */
  async runDue(): Promise<number> {
    this.running = this.drain();
    return this.running;
  }

  private async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const jobs = await this.claim();
      if (jobs.length === 0) return total;
      for (const job of jobs) await this.runOne(job);
      total += jobs.length;
    }
  }

  private async claim(): Promise<ClaimedJob[]> {
    const now = this.opts.clock.now();
    const leaseUntil = new Date(now.getTime() + this.opts.lockSeconds * 1000);
    return this.opts.orm.em.fork().execute<ClaimedJob[]>(
      `UPDATE jobs SET locked_until = ?, attempts = attempts + 1
       WHERE id IN (
         SELECT id FROM jobs
         WHERE done_at IS NULL AND run_at <= ? AND attempts < max_attempts
           AND (locked_until IS NULL OR locked_until < ?)
         ORDER BY run_at
         LIMIT ?
         FOR UPDATE SKIP LOCKED)
       RETURNING id, queue, payload, attempts`,
      [leaseUntil, now, now, this.opts.batchSize],
    );
  }

  private async runOne(job: ClaimedJob): Promise<void> {
    const em = this.opts.orm.em.fork();
    const handler = this.opts.handlers[job.queue];
    try {
      if (!handler) throw new Error(`no handler for queue ${job.queue}`);
      await handler(job.payload);
      // re-scheduled while it ran (attempts reset): leave it due, so it runs again
      await em.execute(
        'UPDATE jobs SET done_at = CASE WHEN attempts = ? THEN ?::timestamptz END, locked_until = NULL WHERE id = ?',
        [job.attempts, this.opts.clock.now(), job.id],
      );
    } catch (error) {
      const backoffMs = Math.min(3_600_000, 1000 * 2 ** Math.min(job.attempts, 22));
      const retryAt = new Date(this.opts.clock.now().getTime() + backoffMs);
      this.opts.log.warn({ err: error, jobId: job.id, queue: job.queue, attempts: job.attempts }, 'job failed');
      await em.execute('UPDATE jobs SET last_error = ?, locked_until = NULL, run_at = ? WHERE id = ?', [
        String(error instanceof Error ? error.message : error).slice(0, 500),
        retryAt,
        job.id,
      ]);
    }
  }
}
