import type pg from 'pg';

/**
 * What must hold in the database after a stress run (CHECKS.md C2-C6), read straight from the
 * tables. Each check returns one line per violation, naming the row; none means it held.
 */

export type InvariantReport = { checked: Record<string, number>; violations: string[] };

export type EventCountsRow = {
  id: string;
  capacity: number;
  available: number;
  held: number;
  sold: number;
  held_bookings: number;
  sold_bookings: number;
};

/**
 * Each event's counts beside what its bookings say they should be: HELD bookings hold tickets, and
 * CONFIRMED ones (and ones refunded after the start, whose tickets stay sold) have them.
 */
export const EVENT_COUNTS_SQL = `SELECT e.id, e.capacity, e.available, e.held, e.sold,
            coalesce(sum(b.quantity) FILTER (WHERE b.status = 'HELD'), 0)::int AS held_bookings,
            coalesce(sum(b.quantity) FILTER (WHERE b.status = 'CONFIRMED'
              OR (b.status = 'REFUNDED' AND b.refunded_at >= e.starts_at)), 0)::int AS sold_bookings
       FROM events e LEFT JOIN bookings b ON b.event_id = e.id GROUP BY e.id`;

/** C2: every event's counts add up, none is negative, and they agree with its bookings (no oversell). */
async function ticketCounts(db: pg.Client, out: string[]): Promise<number> {
  const { rows } = await db.query<EventCountsRow>(EVENT_COUNTS_SQL);
  for (const e of rows) {
    const where = `event ${e.id} (capacity ${e.capacity}, available ${e.available}, held ${e.held}, sold ${e.sold})`;
    if (e.available < 0 || e.held < 0 || e.sold < 0) out.push(`${where}: a negative count`);
    if (e.available + e.held + e.sold !== e.capacity) out.push(`${where}: counts do not add up to the capacity`);
    if (e.held !== e.held_bookings) out.push(`${where}: held ${e.held} but HELD bookings hold ${e.held_bookings}`);
    if (e.sold !== e.sold_bookings) out.push(`${where}: sold ${e.sold} but CONFIRMED bookings have ${e.sold_bookings}`);
    if (e.held_bookings + e.sold_bookings > e.capacity)
      out.push(`${where}: oversold, bookings hold ${e.held_bookings + e.sold_bookings} tickets`);
  }
  return rows.length;
}

/** C3: a paid CONFIRMED booking has exactly one completed capture, of its total; a REFUNDED one got it back. */
async function payments(db: pg.Client, out: string[]): Promise<number> {
  const { rows } = await db.query<{
    id: string;
    status: string;
    total_minor: number;
    captures: number;
    captured: number;
    refunds: number;
    refunded: number;
  }>(
    `SELECT b.id, b.status, b.total_minor,
            count(p.id) FILTER (WHERE p.kind = 'capture' AND p.status = 'COMPLETED')::int AS captures,
            coalesce(sum(p.amount_minor) FILTER (WHERE p.kind = 'capture' AND p.status = 'COMPLETED'), 0)::int AS captured,
            count(p.id) FILTER (WHERE p.kind = 'refund' AND p.status = 'COMPLETED')::int AS refunds,
            coalesce(sum(p.amount_minor) FILTER (WHERE p.kind = 'refund' AND p.status = 'COMPLETED'), 0)::int AS refunded
       FROM bookings b LEFT JOIN payments p ON p.booking_id = b.id
      WHERE b.status IN ('CONFIRMED', 'REFUNDED') AND b.total_minor > 0
      GROUP BY b.id`,
  );
  for (const b of rows) {
    if (b.status === 'CONFIRMED' && (b.captures !== 1 || b.captured !== b.total_minor))
      out.push(
        `booking ${b.id} CONFIRMED (total ${b.total_minor}) with ${b.captures} completed capture(s) of ${b.captured}`,
      );
    if (b.status === 'REFUNDED' && (b.refunds === 0 || b.refunded !== b.captured))
      out.push(
        `booking ${b.id} REFUNDED with ${b.refunds} completed refund(s) of ${b.refunded}, ${b.captured} captured`,
      );
  }
  return rows.length;
}

/** C5: once the jobs ran, no hold is still HELD past its expiry. */
async function lapsedHolds(db: pg.Client, out: string[], now: Date): Promise<number> {
  const { rows } = await db.query<{ id: string; hold_expires_at: Date }>(
    `SELECT id, hold_expires_at FROM bookings WHERE status = 'HELD' AND hold_expires_at < $1`,
    [now],
  );
  for (const b of rows) out.push(`booking ${b.id} still HELD, its hold lapsed at ${b.hold_expires_at.toISOString()}`);
  const [held] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM bookings WHERE status = 'HELD'`)).rows;
  return held?.n ?? 0;
}

/**
 * Every job is done (gone from the queue) or due later: none failed for good, none is due now and
 * untaken, none is locked by a worker that no longer beats (a SIGKILLed instance's jobs came back).
 */
async function jobs(db: pg.Client, out: string[], leaseMs: number): Promise<number> {
  const { rows } = await db.query<{
    id: string;
    task_identifier: string;
    run_at: Date;
    attempts: number;
    max_attempts: number;
    locked_at: Date | null;
    last_error: string | null;
  }>(
    `SELECT id::text, task_identifier, run_at, attempts, max_attempts, locked_at, last_error
       FROM graphile_worker.jobs`,
  );
  const now = Date.now();
  for (const job of rows) {
    const what = `job ${job.id} ${job.task_identifier}`;
    if (job.attempts >= job.max_attempts)
      out.push(`${what} failed for good after ${job.attempts} attempts: ${job.last_error?.slice(0, 200)}`);
    else if (job.locked_at && now - job.locked_at.getTime() > leaseMs * 2)
      out.push(`${what} locked since ${job.locked_at.toISOString()} by a worker that is gone`);
    else if (!job.locked_at && now - job.run_at.getTime() > 10_000)
      out.push(`${what} due since ${job.run_at.toISOString()} and not run`);
  }
  return rows.length;
}

export async function checkInvariants(db: pg.Client, opts: { leaseMs: number }): Promise<InvariantReport> {
  const violations: string[] = [];
  const checked = {
    events: await ticketCounts(db, violations),
    paidBookings: await payments(db, violations),
    openHolds: await lapsedHolds(db, violations, new Date()),
    jobsLeft: await jobs(db, violations, opts.leaseMs),
  };
  return { checked, violations };
}

/**
 * What the drain waits for: open holds (they all lapse within the hold TTL), jobs due now, and
 * jobs that failed and retry soon. Jobs scheduled later (a refund's follow-up check) are due, not stuck.
 */
export async function pendingWork(db: pg.Client): Promise<{ lapsedHolds: number; openHolds: number; dueJobs: number }> {
  const { rows } = await db.query<{ lapsed: number; open: number; due: number }>(
    `SELECT (SELECT count(*) FROM bookings WHERE status = 'HELD' AND hold_expires_at < now())::int AS lapsed,
            (SELECT count(*) FROM bookings WHERE status = 'HELD')::int AS open,
            (SELECT count(*) FROM graphile_worker.jobs
              WHERE attempts < max_attempts
                AND (run_at <= now() OR (attempts > 0 AND run_at < now() + interval '20 seconds')))::int AS due`,
  );
  const row = rows[0] ?? { lapsed: 0, open: 0, due: 0 };
  return { lapsedHolds: row.lapsed, openHolds: row.open, dueJobs: row.due };
}
