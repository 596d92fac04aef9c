import { randomBytes } from 'node:crypto';
import {
  type ConfigureWaitingRoomInput,
  DomainError,
  type QueueState,
  type QueueStatus,
  type WaitingRoom,
  type WaitingRoomState,
  type WaitingRoomStateInput,
} from '@boxoffice/contracts';
import type { EntityManager } from '@boxoffice/db';
import { z } from 'zod';
import { jobSpec } from '../../jobs/job-queue.ts';
import type { Clock } from '../../lib/clock.ts';
import { decodeCursor, encodeCursor } from '../../lib/cursor.ts';
import type { AuthUser } from '../auth/tokens.ts';

/**
 * An event's waiting room (docs/architecture.md, "On-sale"). Buyers join from `lead_minutes`
 * before `salesStartAt`; at the opening the admission job draws the order of everyone who joined
 * before it (each drew a uniform random key when joining, so arriving early gives no edge) and
 * numbers them 1..n; later arrivals get the next numbers in arrival order. The job then admits
 * buyers in number order at the rate the event can take, until it sells out or the sale ends.
 * While the room is open and the sale has started, the sale rule (sale-rule.ts) refuses a hold
 * without a valid admission: the ledger reads the admission under the event's lock.
 *
 * Everything is in PostgreSQL, so any number of server instances serve one room: joins serialise
 * on the room's row (late arrivals) or a shared advisory lock (before the draw), and every run of
 * the admission job holds the room's advisory lock exclusively, so there is one admission sequence.
 */

export type WaitingRoomConfig = {
  clock: Clock;
  admissionTtlSeconds: number;
  tickSeconds: number;
  batchMax: number;
  /**
   * The draw key of a buyer who joins before the opening: uniform in [0, 1). A CSPRNG in
   * production; the fairness test fixes a seed.
   */
  random: () => number;
};

export type WaitingRoomDeps = WaitingRoomConfig & { em: EntityManager };

/** A uniform key in [0, 1) with 48 random bits. */
export const secureRandom = () => randomBytes(6).readUIntBE(0, 6) / 2 ** 48;

const ADMIT_TASK = 'admit-buyers' as const;

/** The room's advisory lock: the admission job holds it exclusively, joins before the draw share it. */
const roomLockKey = (eventId: string) => `waiting-room:${eventId}`;

type RoomRow = {
  event_id: string;
  lead_minutes: number;
  drawn_at: Date | null;
  next_no: number;
  serving_no: number;
  admitted_total: number;
  admission_rate_per_minute: number;
  finished_at: Date | null;
  finish_reason: 'sold_out' | 'sales_ended' | 'event_closed' | null;
  updated_at: Date;
  sales_start_at: Date | null;
  sales_end_at: Date | null;
  status: string;
  starts_at: Date;
};

async function findRoom(em: EntityManager, eventId: string, lock = ''): Promise<RoomRow | null> {
  const [row] = await em.execute<RoomRow[]>(
    `SELECT r.*, e.sales_start_at, e.sales_end_at, e.status, e.starts_at
       FROM waiting_rooms r JOIN events e ON e.id = r.event_id WHERE r.event_id = ? ${lock}`,
    [eventId],
  );
  return row ?? null;
}

const roomNotFound = () =>
  new DomainError('WAITING_ROOM_NOT_FOUND', 'This event has no waiting room', { field: 'eventId' });

const iso = (value: Date | string) => new Date(value).toISOString();
const joinOpensAt = (salesStartAt: Date, leadMinutes: number) =>
  new Date(new Date(salesStartAt).getTime() - leadMinutes * 60_000);

/**
 * Admin: opens (or changes the lead time of) an event's waiting room, or removes it. Removing one
 * is refused once the opening draw has happened: its buyers have their places. A room for an
 * event without a `salesStartAt` takes no one until the event gets one.
 */
export async function configureWaitingRoom(
  deps: WaitingRoomDeps,
  input: ConfigureWaitingRoomInput,
): Promise<WaitingRoom> {
  const now = deps.clock.now();
  return deps.em.transactional(async (em) => {
    const [event] = await em.execute<{ sales_start_at: Date | null; status: string }[]>(
      'SELECT sales_start_at, status FROM events WHERE id = ? FOR UPDATE',
      [input.eventId],
    );
    if (!event) throw new DomainError('EVENT_NOT_FOUND', 'No such event', { field: 'eventId' });
    const room = await findRoom(em, input.eventId, 'FOR UPDATE OF r');
    if (!input.enabled) {
      if (room?.drawn_at)
        throw new DomainError('WAITING_ROOM_LOCKED', 'The waiting room has drawn its order and cannot be removed');
      await em.execute('DELETE FROM waiting_rooms WHERE event_id = ?', [input.eventId]);
      return { eventId: input.eventId, enabled: false, leadMinutes: null, salesStartAt: null, joinOpensAt: null };
    }
    if (event.status === 'cancelled')
      throw new DomainError('EVENT_NOT_EDITABLE', 'A cancelled event cannot be changed');
    await em.execute(
      `INSERT INTO waiting_rooms (event_id, lead_minutes, created_at, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (event_id) DO UPDATE SET lead_minutes = excluded.lead_minutes, updated_at = excluded.updated_at`,
      [input.eventId, input.leadMinutes, now, now],
    );
    // without a salesStartAt the room waits for one (events.update schedules the job when it is set)
    const salesStartAt = event.sales_start_at ? new Date(event.sales_start_at) : null;
    if (salesStartAt && !room?.drawn_at)
      await scheduleAdmission(em, input.eventId, new Date(Math.max(now.getTime(), salesStartAt.getTime())));
    return {
      eventId: input.eventId,
      enabled: true,
      leadMinutes: input.leadMinutes,
      salesStartAt: salesStartAt ? salesStartAt.toISOString() : null,
      joinOpensAt: salesStartAt ? joinOpensAt(salesStartAt, input.leadMinutes).toISOString() : null,
    };
  });
}

/**
 * Jobs of the on-sale go before the rest (graphile-worker runs lower priorities first): an
 * admission run that waits behind a queue of mails (a sell-out sends thousands) stalls the sale.
 */
export const ONSALE_JOB_PRIORITY = -10;

/** The admission job of an event, one per event (its key), in the caller's transaction. */
async function scheduleAdmission(em: EntityManager, eventId: string, runAt: Date) {
  const spec = jobSpec(ADMIT_TASK, { eventId }, { runAt, jobKey: eventId });
  await em.execute(
    `SELECT graphile_worker.add_job(?, ?::json, run_at => ?::timestamptz, max_attempts => ?, job_key => ?,
                                    job_key_mode => 'replace', priority => ?)`,
    [spec.identifier, JSON.stringify(spec.payload), spec.run_at, spec.max_attempts, spec.job_key, ONSALE_JOB_PRIORITY],
  );
}

/**
 * The event's opening moved (events.update): its room's admission job follows, until the draw.
 * Nothing when the event has no room.
 */
export async function followSalesStart(em: EntityManager, eventId: string, now: Date): Promise<void> {
  const room = await findRoom(em, eventId);
  if (!room || room.drawn_at || !room.sales_start_at) return;
  await scheduleAdmission(em, eventId, new Date(Math.max(now.getTime(), new Date(room.sales_start_at).getTime())));
}

/**
 * Puts the buyer in the event's waiting room, once: joining again answers with the same place.
 * Before the draw the place is a random key; after it, the next number in line.
 */
export async function joinQueue(deps: WaitingRoomDeps, actor: AuthUser, eventId: string): Promise<QueueStatus> {
  const now = deps.clock.now();
  const room = await findRoom(deps.em, eventId);
  if (!room || room.status === 'draft') throw roomNotFound();
  if (!room.sales_start_at)
    throw new DomainError('QUEUE_NOT_OPEN', 'The sale has no opening time yet', { opensAt: null });
  const existing = await readStatus(deps.em, actor.id, eventId, now);
  if (existing && existing.state !== 'not_joined') return existing;
  if (room.status !== 'published' || new Date(room.starts_at).getTime() <= now.getTime())
    throw new DomainError('EVENT_NOT_ON_SALE', 'Tickets for this event are not on sale');
  const opens = joinOpensAt(room.sales_start_at, room.lead_minutes);
  if (now.getTime() < opens.getTime())
    throw new DomainError('QUEUE_NOT_OPEN', `The waiting room opens at ${opens.toISOString()}`, {
      opensAt: opens.toISOString(),
    });
  if (room.finished_at) {
    if (room.finish_reason === 'sold_out')
      throw new DomainError('SOLD_OUT', 'Sold out: join the waitlist instead', { available: 0 });
    throw new DomainError('SALES_ENDED', 'Ticket sales for this event have ended');
  }
  await deps.em.transactional(async (em) => {
    if (!room.drawn_at) {
      // before the draw: shares the room's lock with other joiners; the draw takes it exclusively,
      // so every key inserted under it is in the draw
      await em.execute('SELECT pg_advisory_xact_lock_shared(hashtextextended(?, 0))', [roomLockKey(eventId)]);
      const [fresh] = await em.execute<{ drawn: boolean }[]>(
        'SELECT drawn_at IS NOT NULL AS drawn FROM waiting_rooms WHERE event_id = ?',
        [eventId],
      );
      if (fresh && !fresh.drawn) {
        await em.execute(
          `INSERT INTO queue_entries (event_id, user_id, draw_key, status, joined_at) VALUES (?, ?, ?, 'waiting', ?)
           ON CONFLICT (event_id, user_id) DO NOTHING`,
          [eventId, actor.id, deps.random(), now],
        );
        return;
      }
    }
    // after the draw: the room's row lock orders late arrivals, so numbers are dense and in arrival order
    await em.execute('SELECT 1 FROM waiting_rooms WHERE event_id = ? FOR UPDATE', [eventId]);
    await em.execute(
      `WITH fresh AS (
         SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM queue_entries WHERE event_id = ? AND user_id = ?)
       ), numbered AS (
         UPDATE waiting_rooms SET next_no = next_no + 1 WHERE event_id = ? AND EXISTS (SELECT 1 FROM fresh)
         RETURNING next_no - 1 AS no
       )
       INSERT INTO queue_entries (event_id, user_id, draw_key, ticket_no, status, joined_at)
       SELECT ?, ?, 1, no, 'waiting', ? FROM numbered`,
      [eventId, actor.id, eventId, eventId, actor.id, now],
    );
  });
  return (await readStatus(deps.em, actor.id, eventId, now)) as QueueStatus;
}

type StatusRow = {
  sales_start_at: Date;
  lead_minutes: number;
  drawn_at: Date | null;
  serving_no: number;
  admission_rate_per_minute: number;
  finished_at: Date | null;
  finish_reason: string | null;
  status: QueueState | null;
  ticket_no: number | null;
  admitted_at: Date | null;
  admission_expires_at: Date | null;
};

/**
 * Where the buyer stands, in one statement that writes nothing (every buyer in the room polls
 * it): an admission past its expiry reads as expired before the admission job settles it.
 */
async function readStatus(em: EntityManager, userId: string, eventId: string, now: Date): Promise<QueueStatus | null> {
  const [row] = await em.execute<StatusRow[]>(
    `SELECT e.sales_start_at, r.lead_minutes, r.drawn_at, r.serving_no, r.admission_rate_per_minute,
            r.finished_at, r.finish_reason, q.status, q.ticket_no, q.admitted_at, q.admission_expires_at
       FROM waiting_rooms r JOIN events e ON e.id = r.event_id
       LEFT JOIN queue_entries q ON q.event_id = r.event_id AND q.user_id = ?
      WHERE r.event_id = ? AND e.sales_start_at IS NOT NULL`,
    [userId, eventId],
  );
  if (!row) return null;
  let state: QueueState = row.status ?? 'not_joined';
  if (state === 'admitted' && row.admission_expires_at && new Date(row.admission_expires_at) <= now) state = 'expired';
  const drawn = row.drawn_at !== null;
  const inLine = state === 'waiting' && drawn && row.ticket_no !== null;
  const position = inLine ? (row.ticket_no as number) - row.serving_no : null;
  const ahead = position === null ? null : position - 1;
  const perSecond = row.admission_rate_per_minute / 60;
  return {
    eventId,
    state,
    salesStartAt: iso(row.sales_start_at),
    joinOpensAt: iso(joinOpensAt(row.sales_start_at, row.lead_minutes)),
    drawn,
    position,
    ahead,
    estimatedWaitSeconds: ahead !== null && perSecond > 0 ? Math.ceil(ahead / perSecond) : null,
    admission:
      row.admitted_at && row.admission_expires_at && (state === 'admitted' || state === 'booked')
        ? { admittedAt: iso(row.admitted_at), expiresAt: iso(row.admission_expires_at) }
        : null,
  };
}

export async function queueStatus(deps: WaitingRoomDeps, actor: AuthUser, eventId: string): Promise<QueueStatus> {
  const status = await readStatus(deps.em, actor.id, eventId, deps.clock.now());
  if (!status) throw roomNotFound();
  return status;
}

/** When the room last changed (an admission, the draw, the end): what status streams watch. */
export async function roomVersion(em: EntityManager, eventId: string): Promise<string | null> {
  const [row] = await em.execute<{ v: string }[]>(
    `SELECT extract(epoch FROM updated_at)::text AS v FROM waiting_rooms WHERE event_id = ?`,
    [eventId],
  );
  return row?.v ?? null;
}

export type AdmissionRun = { admitted: number; finished: string | null; next: Date | null };

/** Tells buyers who were still waiting that the event sold out (mail); wired at the composition root. */
export type SoldOutNotice = (em: EntityManager, eventId: string, userIds: string[], now: Date) => Promise<void>;

/**
 * One run of an event's admission job, under the room's exclusive advisory lock (one admission
 * sequence however many workers run it): the opening draw if due, settling admissions that were
 * used or ran out, then admitting the next buyers in number order, as many as the tickets left
 * can serve beyond the admissions still open (at most `batchMax` a run). It schedules the next run
 * while the room is open; a finished room (sold out, sales ended, event closed) tells everyone
 * still waiting at once.
 */
export async function runAdmissions(
  deps: WaitingRoomDeps & { onSoldOut?: SoldOutNotice },
  eventId: string,
): Promise<AdmissionRun> {
  const now = deps.clock.now();
  return deps.em.transactional(async (em) => {
    await em.execute('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [roomLockKey(eventId)]);
    const room = await findRoom(em, eventId);
    if (!room || room.finished_at || !room.sales_start_at) return { admitted: 0, finished: null, next: null };
    const salesStartAt = new Date(room.sales_start_at);
    if (now.getTime() < salesStartAt.getTime()) {
      await scheduleAdmission(em, eventId, salesStartAt);
      return { admitted: 0, finished: null, next: salesStartAt };
    }
    let changed = false;
    if (!room.drawn_at) {
      await drawOpeningOrder(em, eventId, now);
      changed = true;
    }
    const finish = async (reason: 'sold_out' | 'sales_ended' | 'event_closed') => {
      const told = await finishRoom(em, eventId, reason, now);
      if (reason === 'sold_out' && told.length > 0) await deps.onSoldOut?.(em, eventId, told, now);
      return { admitted: 0, finished: reason, next: null };
    };
    if (room.status !== 'published' || new Date(room.starts_at).getTime() <= now.getTime())
      return finish('event_closed');
    if (room.sales_end_at && now.getTime() >= new Date(room.sales_end_at).getTime()) return finish('sales_ended');

    if ((await settleAdmissions(em, eventId, now)) > 0) changed = true;
    const [counts] = await em.execute<{ available: number; held: number; open: number }[]>(
      // holds that lapsed before their expiry job ran count as available (as the catalogue reads them)
      `SELECT e.available + lapsed.n AS available, e.held - lapsed.n AS held,
              (SELECT count(*)::int FROM queue_entries q
                WHERE q.event_id = e.id AND q.status = 'admitted' AND q.admission_expires_at > ?) AS open
         FROM events e,
              LATERAL (SELECT coalesce(sum(b.quantity), 0)::int AS n FROM bookings b
                        WHERE b.event_id = e.id AND b.status = 'HELD' AND b.hold_expires_at <= ?) lapsed
        WHERE e.id = ?`,
      [now, now, eventId],
    );
    const { available = 0, held = 0, open = 0 } = counts ?? {};
    if (available === 0 && held === 0) return finish('sold_out');
    const slots = Math.min(deps.batchMax, available - open);
    const admitted = slots > 0 ? await admitNext(em, eventId, slots, now, deps.admissionTtlSeconds) : 0;
    if (admitted > 0) changed = true;
    const elapsed = Math.max(1, (now.getTime() - new Date(room.updated_at).getTime()) / 1000);
    // a smoothed admissions-per-minute, for the wait estimates in every buyer's status
    const rate = changed
      ? 0.5 * room.admission_rate_per_minute + 0.5 * ((admitted * 60) / Math.max(elapsed, deps.tickSeconds))
      : room.admission_rate_per_minute;
    if (changed)
      await em.execute(
        `UPDATE waiting_rooms SET admitted_total = admitted_total + ?, admission_rate_per_minute = ?, updated_at = ?
          WHERE event_id = ?`,
        [admitted, rate, now, eventId],
      );
    const next = new Date(now.getTime() + deps.tickSeconds * 1000);
    await scheduleAdmission(em, eventId, next);
    return { admitted, finished: null, next };
  });
}

/**
 * The opening draw: everyone who joined before it, numbered 1..n in the order of the keys they
 * drew at random when joining. Run under the room's exclusive lock, which every joiner before the
 * draw shares, so no key is inserted while numbers are handed out.
 */
async function drawOpeningOrder(em: EntityManager, eventId: string, now: Date): Promise<number> {
  const [row] = await em.execute<{ n: number }[]>(
    `WITH ranked AS (
       SELECT user_id, row_number() OVER (ORDER BY draw_key, user_id) AS no
         FROM queue_entries WHERE event_id = ? AND ticket_no IS NULL
     ), numbered AS (
       UPDATE queue_entries q SET ticket_no = ranked.no FROM ranked
        WHERE q.event_id = ? AND q.user_id = ranked.user_id RETURNING 1
     )
     SELECT count(*)::int AS n FROM numbered`,
    [eventId, eventId],
  );
  const drawn = row?.n ?? 0;
  await em.execute('UPDATE waiting_rooms SET drawn_at = ?, next_no = ?, updated_at = ? WHERE event_id = ?', [
    now,
    drawn + 1,
    now,
    eventId,
  ]);
  return drawn;
}

/**
 * Admissions that were used (the buyer booked after being admitted) become `booked`; those that
 * ran out unused become `expired`, which frees their place for the next in line.
 */
async function settleAdmissions(em: EntityManager, eventId: string, now: Date): Promise<number> {
  const rows = await em.execute<{ user_id: string }[]>(
    `UPDATE queue_entries q
        SET status = CASE WHEN EXISTS (
              SELECT 1 FROM bookings b WHERE b.user_id = q.user_id AND b.event_id = q.event_id
                 AND b.created_at >= q.admitted_at AND b.created_at < q.admission_expires_at)
            THEN 'booked' ELSE 'expired' END,
            settled_at = ?
      WHERE q.event_id = ? AND q.status = 'admitted'
        AND (q.admission_expires_at <= ? OR EXISTS (
              SELECT 1 FROM bookings b WHERE b.user_id = q.user_id AND b.event_id = q.event_id
                 AND b.created_at >= q.admitted_at))
      RETURNING q.user_id`,
    [now, eventId, now],
  );
  return rows.length;
}

/** The next `slots` buyers in number order get an admission, numbered on from the last one. */
async function admitNext(em: EntityManager, eventId: string, slots: number, now: Date, ttlSeconds: number) {
  const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
  const rows = await em.execute<{ ticket_no: number }[]>(
    `WITH base AS (SELECT coalesce(max(admission_no), 0) AS n FROM queue_entries WHERE event_id = ?),
          next AS (
            SELECT user_id, row_number() OVER (ORDER BY ticket_no) AS k FROM queue_entries
             WHERE event_id = ? AND status = 'waiting' AND ticket_no IS NOT NULL
             ORDER BY ticket_no LIMIT ?)
     UPDATE queue_entries q
        SET status = 'admitted', admitted_at = ?, admission_expires_at = ?, admission_no = base.n + next.k
       FROM next, base
      WHERE q.event_id = ? AND q.user_id = next.user_id AND q.status = 'waiting'
      RETURNING q.ticket_no`,
    [eventId, eventId, slots, now, expiresAt, eventId],
  );
  if (rows.length > 0)
    await em.execute('UPDATE waiting_rooms SET serving_no = greatest(serving_no, ?) WHERE event_id = ?', [
      Math.max(...rows.map((row) => row.ticket_no)),
      eventId,
    ]);
  return rows.length;
}

/** Ends the room; everyone still waiting learns it at once (their status). Returns who was waiting. */
async function finishRoom(
  em: EntityManager,
  eventId: string,
  reason: 'sold_out' | 'sales_ended' | 'event_closed',
  now: Date,
): Promise<string[]> {
  await em.execute(
    'UPDATE waiting_rooms SET finished_at = ?, finish_reason = ?, updated_at = ? WHERE event_id = ? AND finished_at IS NULL',
    [now, reason, now, eventId],
  );
  await settleAdmissions(em, eventId, now);
  const rows = await em.execute<{ user_id: string }[]>(
    `UPDATE queue_entries SET status = ?, settled_at = ? WHERE event_id = ? AND status = 'waiting' RETURNING user_id`,
    [reason === 'sold_out' ? 'sold_out' : 'closed', now, eventId],
  );
  return rows.map((row) => row.user_id);
}

const QueueCursorSchema = z.tuple([z.number().int(), z.uuid()]);

/** Admin: the room's counts by status and its entries in admission order. */
export async function waitingRoomState(
  deps: Pick<WaitingRoomDeps, 'em' | 'clock'>,
  input: WaitingRoomStateInput,
): Promise<WaitingRoomState> {
  const room = await findRoom(deps.em, input.eventId);
  if (!room) throw roomNotFound();
  const now = deps.clock.now();
  const [counts] = await deps.em.execute<Record<string, number>[]>(
    `SELECT count(*) FILTER (WHERE status = 'waiting')::int AS waiting,
            count(*) FILTER (WHERE status = 'admitted' AND admission_expires_at > ?)::int AS admitted,
            count(*) FILTER (WHERE status = 'booked')::int AS booked,
            count(*) FILTER (WHERE status = 'expired' OR (status = 'admitted' AND admission_expires_at <= ?))::int
              AS expired,
            count(*) FILTER (WHERE status = 'sold_out')::int AS sold_out,
            count(*) FILTER (WHERE status = 'closed')::int AS closed
       FROM queue_entries WHERE event_id = ?`,
    [now, now, input.eventId],
  );
  const [afterNo, afterUser] = input.cursor
    ? decodeCursor(input.cursor, QueueCursorSchema)
    : [-1, '00000000-0000-0000-0000-000000000000'];
  const rows = await deps.em.execute<
    {
      user_id: string;
      status: QueueState;
      ticket_no: number | null;
      admission_no: number | null;
      joined_at: Date;
      admitted_at: Date | null;
      admission_expires_at: Date | null;
      ord: number;
    }[]
  >(
    `SELECT user_id, status, ticket_no, admission_no, joined_at, admitted_at, admission_expires_at,
            coalesce(ticket_no, 0) AS ord
       FROM queue_entries
      WHERE event_id = ? AND (coalesce(ticket_no, 0), user_id) > (?, ?::uuid) ${input.status ? 'AND status = ?' : ''}
      ORDER BY coalesce(ticket_no, 0), user_id LIMIT ?`,
    [input.eventId, afterNo, afterUser, ...(input.status ? [input.status] : []), input.limit + 1],
  );
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    eventId: input.eventId,
    drawnAt: room.drawn_at ? iso(room.drawn_at) : null,
    finishedAt: room.finished_at ? iso(room.finished_at) : null,
    finishReason: room.finish_reason,
    admissionRatePerMinute: room.admission_rate_per_minute,
    counts: {
      waiting: counts?.waiting ?? 0,
      admitted: counts?.admitted ?? 0,
      booked: counts?.booked ?? 0,
      expired: counts?.expired ?? 0,
      soldOut: counts?.sold_out ?? 0,
      closed: counts?.closed ?? 0,
    },
    entries: {
      items: page.map((row) => ({
        userId: row.user_id,
        status: (row.status === 'admitted' && row.admission_expires_at && new Date(row.admission_expires_at) <= now
          ? 'expired'
          : row.status) as WaitingRoomState['entries']['items'][number]['status'],
        ticketNo: row.ticket_no,
        admissionNo: row.admission_no,
        joinedAt: iso(row.joined_at),
        admittedAt: row.admitted_at ? iso(row.admitted_at) : null,
        admissionExpiresAt: row.admission_expires_at ? iso(row.admission_expires_at) : null,
      })),
      nextCursor: rows.length > input.limit && last ? encodeCursor([last.ord, last.user_id]) : null,
    },
  };
}
