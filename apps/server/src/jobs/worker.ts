import { EventEmitter } from 'node:events';
import { type Runner, run, runOnce, type TaskList, type WorkerEvents } from 'graphile-worker';
import type pg from 'pg';
import { type Clock, systemClock } from '../lib/clock.ts';
import type { Logger } from '../logger.ts';
import { ClockJobWorker } from './clock-worker.ts';
import { HOUSEKEEPING_CRONTAB } from './housekeeping.ts';
import { HEARTBEAT_MS, JobLeases } from './leases.ts';
import { jobQueuePool } from './pg-pool.ts';
import { buildTaskList, workerLogger } from './task-list.ts';
import type { JobHandlers } from './tasks.ts';

/** What the server holds of its job worker. */
export type JobRunner = {
  /** Works jobs as they come due, until `stop`. */
  start(): Promise<void>;
  /** Runs every job that is due now and resolves once none is left; resolves with how many ran. */
  runDue(): Promise<number>;
  /** Lets running jobs finish, then lets go of the database. */
  stop(): Promise<void>;
};

export type JobWorkerOptions = {
  /** A direct connection, never a transaction pooler: LISTEN/NOTIFY needs a session of its own. */
  databaseUrl: string;
  clock: Clock;
  log: Logger;
  handlers: JobHandlers;
  /** Jobs one instance runs at once. */
  concurrency?: number;
  /** How long a silent pool keeps its jobs, and how often live ones beat (defaults in leases.ts). */
  leaseMs?: number;
  heartbeatMs?: number;
};

/**
 * The worker of a running server: graphile-worker's `run` (LISTEN/NOTIFY for new jobs, polling for
 * scheduled ones, the crontab), with jobs claimed by `FOR UPDATE SKIP LOCKED`, so any number of
 * instances share the queue and each job runs in one of them at a time. Times are Node's
 * (`useNodeTime`), the clock jobs are scheduled by.
 */
export class JobWorker implements JobRunner {
  private readonly opts: JobWorkerOptions;
  private readonly db: pg.Pool;
  private readonly tasks: TaskList;
  private readonly leases: JobLeases;
  private readonly events = new EventEmitter() as WorkerEvents;
  private readonly pools = new Set<string>();
  private runner: Runner | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopping = false;
  private ran = 0;

  constructor(opts: JobWorkerOptions) {
    this.opts = opts;
    const concurrency = opts.concurrency ?? 4;
    // graphile-worker's own connections: one LISTENs, the others claim and complete jobs (the
    // handlers work through the ORM's pool)
    this.db = jobQueuePool({ connectionString: opts.databaseUrl, max: concurrency + 2 }, opts.log);
    this.tasks = buildTaskList(opts.handlers, opts.log, () => {
      this.ran += 1;
    });
    this.leases = new JobLeases({ clock: opts.clock, log: opts.log, leaseMs: opts.leaseMs });
    this.events.on('pool:create', ({ workerPool }) => {
      this.pools.add(workerPool.id);
      this.leases.beat(this.db, [workerPool.id]).catch((error: unknown) => this.warn(error));
    });
    this.events.on('pool:release', ({ workerPool }) => {
      if (this.stopping) return; // stop() forgets them once the pools are down
      this.pools.delete(workerPool.id);
      this.leases.forget(this.db, [workerPool.id]).catch((error: unknown) => this.warn(error));
    });
  }

  private shared() {
    return {
      pgPool: this.db,
      taskList: this.tasks,
      concurrency: this.opts.concurrency ?? 4,
      noHandleSignals: true, // the server's shutdown stops the worker
      useNodeTime: true,
      logger: workerLogger(this.opts.log),
      events: this.events,
    };
  }

  async start(): Promise<void> {
    // jobs left locked by an instance that died while this one was down run again now
    await this.leases.reclaim(this.db);
    this.runner = await run({ ...this.shared(), crontab: HOUSEKEEPING_CRONTAB });
    this.runner.promise.catch((error: unknown) =>
      this.opts.log.error({ err: error }, 'job worker stopped on an error'),
    );
    this.heartbeat = setInterval(() => {
      this.leases
        .beat(this.db, [...this.pools])
        .then(() => this.leases.reclaim(this.db))
        .catch((error: unknown) => this.warn(error));
    }, this.opts.heartbeatMs ?? HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  async runDue(): Promise<number> {
    const before = this.ran;
    await runOnce({ ...this.shared(), concurrency: 1 });
    return this.ran - before;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    try {
      if (this.runner) await this.runner.stop();
      await this.leases.forget(this.db, [...this.pools]);
    } finally {
      this.runner = undefined;
      await this.db.end();
    }
  }

  private warn(error: unknown) {
    this.opts.log.warn({ err: error }, 'job worker heartbeat failed');
  }
}

/**
 * The server's worker. A server started with a Clock of its own (tests that move time by hand) gets
 * one that follows that clock (`ClockJobWorker`: `runDue` on demand, `start` polls it); a server on
 * the system clock gets the real one.
 */
export function createJobWorker(opts: JobWorkerOptions): JobRunner {
  return opts.clock === systemClock ? new JobWorker(opts) : new ClockJobWorker(opts);
}
