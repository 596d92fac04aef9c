// Hand-written on top of graphile-worker: 0.18 frees the jobs of a crashed worker only after a fixed
// four hours (its resetLockedAt). Payments waiting on a refund should not wait that long, so each
// worker pool beats in our own table and any pool declares dead the locks of a pool that has not
// beaten for a lease, through graphile-worker's public `force_unlock_workers`.
import type pg from 'pg';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../logger.ts';

/** A pool silent this long is taken for dead and its jobs run again elsewhere. */
export const LEASE_MS = 2 * 60_000;
/** How often a live pool says so, and looks for dead ones: several beats fit in one lease. */
export const HEARTBEAT_MS = 30_000;

export type JobLeaseOptions = { clock: Clock; log: Logger; leaseMs?: number };

/**
 * Times come from our Clock, as graphile-worker's `locked_at` does (Node time in production, the
 * test clock in tests), so a lease is measured on one time line.
 */
export class JobLeases {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly leaseMs: number;

  constructor(opts: JobLeaseOptions) {
    this.clock = opts.clock;
    this.log = opts.log;
    this.leaseMs = opts.leaseMs ?? LEASE_MS;
  }

  /** Records that these pools are alive now. */
  async beat(db: pg.Pool, poolIds: string[]): Promise<void> {
    if (poolIds.length === 0) return;
    await db.query(
      `INSERT INTO job_worker_heartbeats (worker_id, beat_at) SELECT unnest($1::text[]), $2
       ON CONFLICT (worker_id) DO UPDATE SET beat_at = EXCLUDED.beat_at`,
      [poolIds, this.clock.now()],
    );
  }

  /** A pool that shut down cleanly released its jobs itself; its beat is no longer needed. */
  async forget(db: pg.Pool, poolIds: string[]): Promise<void> {
    if (poolIds.length === 0) return;
    await db.query('DELETE FROM job_worker_heartbeats WHERE worker_id = ANY($1::text[])', [poolIds]);
  }

  /**
   * Unlocks the jobs of every pool that locked one more than a lease ago and has not beaten since,
   * so they run again; returns those pools. A slow job of a live pool is never taken from it.
   */
  async reclaim(db: pg.Pool): Promise<string[]> {
    const cutoff = new Date(this.clock.now().getTime() - this.leaseMs);
    const { rows } = await db.query<{ worker_id: string; jobs: number }>(
      `SELECT j.locked_by AS worker_id, count(*)::int AS jobs
       FROM graphile_worker.jobs j
       WHERE j.locked_by IS NOT NULL AND j.locked_at < $1
         AND NOT EXISTS (SELECT 1 FROM job_worker_heartbeats h WHERE h.worker_id = j.locked_by AND h.beat_at >= $1)
       GROUP BY j.locked_by`,
      [cutoff],
    );
    if (rows.length === 0) return [];
    const dead = rows.map((row) => row.worker_id);
    await db.query('SELECT graphile_worker.force_unlock_workers($1::text[])', [dead]);
    await this.forget(db, dead);
    this.log.warn({ workers: rows }, 'jobs of a job worker that stopped beating are unlocked to run again');
    return dead;
  }
}

/** Beats of pools gone for a day are of no use to anyone (housekeeping). */
export const FORGET_BEATS_AFTER_MS = 86_400_000;
