// Hand-written for tests that move time by hand: graphile-worker asks PostgreSQL's now() (or Node's
// clock) whether a job is due, when a failed one is retried and when it was locked, and neither is
// our Clock. This worker runs graphile-worker's own runOnce on connections whose now() *is* the
// Clock's time, so jobs come due, back off and stay locked on the test's time line, through the same
// SQL as in production; a dead worker's lease is checked on that line before each run. Production
// never builds it (see `createJobWorker`).
import { runOnce, type TaskList } from 'graphile-worker';
import pg from 'pg';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../logger.ts';
import { JobLeases } from './leases.ts';
import { jobQueuePool } from './pg-pool.ts';
import { buildTaskList, workerLogger } from './task-list.ts';
import type { JobHandlers } from './tasks.ts';
import type { JobRunner } from './worker.ts';

/** A schema whose now() reads the session's `boxoffice.job_clock`; only these connections look in it. */
const CLOCK_SCHEMA = 'boxoffice_job_clock';
const INSTALL_LOCK = 7_331_002;

export type ClockJobWorkerOptions = {
  databaseUrl: string;
  clock: Clock;
  log: Logger;
  handlers: JobHandlers;
  /** With `start`, how often it looks for jobs due by the clock. */
  pollMs?: number;
  leaseMs?: number;
};

export class ClockJobWorker implements JobRunner {
  private readonly opts: ClockJobWorkerOptions;
  private readonly tasks: TaskList;
  private readonly leases: JobLeases;
  private installed: Promise<void> | undefined;
  private last: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ran = 0;

  constructor(opts: ClockJobWorkerOptions) {
    this.opts = opts;
    this.tasks = buildTaskList(opts.handlers, opts.log, () => {
      this.ran += 1;
    });
    this.leases = new JobLeases({ clock: opts.clock, log: opts.log, leaseMs: opts.leaseMs });
  }

  /** Polls `runDue`, as a running server would work jobs by this clock. */
  async start(): Promise<void> {
    const tick = () => {
      if (this.stopped) return;
      this.runDue()
        .catch((error: unknown) => this.opts.log.error({ err: error }, 'job worker tick failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.opts.pollMs ?? 1000);
        });
    };
    this.timer = setTimeout(tick, this.opts.pollMs ?? 1000);
  }

  /**
   * Runs every job due by the clock's time now, one after another, until none is left (a job that
   * fails is retried by a later call, once its backoff has passed on the clock). Calls queue behind
   * one another, so a call returns only after the jobs due at its time have run.
   */
  runDue(): Promise<number> {
    const next = this.last.then(() => this.runOnceAt(this.opts.clock.now()));
    this.last = next.catch(() => {});
    return next;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.last;
  }

  private async runOnceAt(now: Date): Promise<number> {
    await this.install();
    const db = jobQueuePool(
      {
        connectionString: this.opts.databaseUrl,
        max: 2,
        // unqualified now() in graphile-worker's SQL finds ours before pg_catalog's
        options: `-c search_path=${CLOCK_SCHEMA},pg_catalog,public -c boxoffice.job_clock=${now.toISOString()}`,
      },
      this.opts.log,
    );
    const before = this.ran;
    try {
      await this.leases.reclaim(db);
      await runOnce({
        pgPool: db,
        taskList: this.tasks,
        noHandleSignals: true,
        logger: workerLogger(this.opts.log),
      });
      return this.ran - before;
    } finally {
      await db.end();
    }
  }

  private install(): Promise<void> {
    this.installed ??= (async () => {
      const db = new pg.Client({ connectionString: this.opts.databaseUrl });
      await db.connect();
      try {
        await db.query('BEGIN');
        await db.query('SELECT pg_advisory_xact_lock($1)', [INSTALL_LOCK]);
        await db.query(`CREATE SCHEMA IF NOT EXISTS ${CLOCK_SCHEMA}`);
        await db.query(
          `CREATE OR REPLACE FUNCTION ${CLOCK_SCHEMA}.now() RETURNS timestamptz LANGUAGE sql STABLE
           AS $$ SELECT current_setting('boxoffice.job_clock')::timestamptz $$`,
        );
        await db.query('COMMIT');
      } finally {
        await db.end();
      }
    })().catch((error: unknown) => {
      this.installed = undefined;
      throw error;
    });
    return this.installed;
  }
}
