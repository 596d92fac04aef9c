import { randomUUID } from 'node:crypto';
import { DomainError } from '@boxoffice/contracts';
import { Booking, type EntityManager } from '@boxoffice/db';
import { enqueueJob } from '../../jobs/job-queue.ts';
import { EXPIRE_HOLD_QUEUE, RECONCILE_PAYMENT_QUEUE } from '../../jobs/queues.ts';

export type EventTerms = {
  id: string;
  status: string;
  startsAt: Date;
  priceMinor: number;
  currency: string;
  available: number;
  maxPerOrder: number;
  maxPerUser: number;
};

export async function readEventTerms(em: EntityManager, eventId: string): Promise<EventTerms | null> {
  const rows = await em.execute<EventTerms[]>(
    `SELECT id, status, starts_at AS "startsAt", price_minor AS "priceMinor", currency, available,
            max_per_order AS "maxPerOrder", max_per_user AS "maxPerUser"
     FROM events WHERE id = ?`,
    [eventId],
  );
  return rows[0] ?? null;
}

/** Tickets this user already has for this event, held or paid. */
export async function ticketsOwned(em: EntityManager, userId: string, eventId: string): Promise<number> {
  const rows = await em.execute<{ n: number }[]>(
    `SELECT coalesce(sum(quantity), 0)::int AS n FROM bookings
     WHERE event_id = ? AND user_id = ? AND status IN ('HELD', 'CONFIRMED')`,
    [eventId, userId],
  );
  return rows[0]?.n ?? 0;
}

/**
 * Moves `quantity` tickets available → held in one conditional UPDATE (the row lock it takes lasts
 * only until this transaction commits) and creates the HELD booking and its expiry job. Returns
 * null when the event no longer qualifies (sold out, unpublished, started, over the per-order
 * limit); the caller explains why. The per-user count is read after the UPDATE, under the event's
 * row lock, so no concurrent confirmation for this event can slip past it; over the limit, the
 * move is undone by throwing. Protects: available + held + sold = capacity, no oversell.
 */
export async function placeHold(
  em: EntityManager,
  args: { userId: string; eventId: string; quantity: number; now: Date; holdExpiresAt: Date },
): Promise<Booking | null> {
  const moved = await em.execute<{ price_minor: number; currency: string; max_per_user: number }[]>(
    `UPDATE events SET available = available - ?, held = held + ?, version = version + 1, updated_at = ?
     WHERE id = ? AND status = 'published' AND starts_at > ? AND available >= ? AND ? <= max_per_order
     RETURNING price_minor, currency, max_per_user`,
    [args.quantity, args.quantity, args.now, args.eventId, args.now, args.quantity, args.quantity],
  );
  const terms = moved[0];
  if (!terms) return null;
  const owned = await ticketsOwned(em, args.userId, args.eventId);
  if (owned + args.quantity > terms.max_per_user)
    throw new DomainError('LIMIT_EXCEEDED', `At most ${terms.max_per_user} tickets per person for this event`, {
      limit: 'per_user',
      max: terms.max_per_user,
      owned,
    });
  const id = randomUUID();
  const rows = await em.execute(
    `INSERT INTO bookings (id, user_id, event_id, quantity, unit_price_minor, total_minor, currency, status,
                           hold_expires_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'HELD', ?, ?, ?) RETURNING *`,
    [
      id,
      args.userId,
      args.eventId,
      args.quantity,
      terms.price_minor,
      terms.price_minor * args.quantity,
      terms.currency.trim(),
      args.holdExpiresAt,
      args.now,
      args.now,
    ],
  );
  await enqueueJob(em, {
    queue: EXPIRE_HOLD_QUEUE,
    payload: { bookingId: id },
    runAt: args.holdExpiresAt,
    dedupeKey: id,
  });
  return em.map(Booking, rows[0] as Record<string, unknown>);
}

/**
 * A released hold may still have money behind it (a capture whose answer was lost, a payment
 * racing the release): a job asks PayPal and refunds whatever was taken for it.
 */
export async function scheduleReconcile(em: EntityManager, bookingId: string, now: Date): Promise<void> {
  await enqueueJob(em, { queue: RECONCILE_PAYMENT_QUEUE, payload: { bookingId }, runAt: now, dedupeKey: bookingId });
}

const STAMP = { CANCELLED: 'cancelled_at', EXPIRED: 'expired_at' } as const;

/**
 * Ends a hold (HELD → CANCELLED or EXPIRED) and puts its tickets back on sale, exactly once: the
 * status condition means a second caller (a duplicate callback, another worker) changes nothing.
 * With `onlyIfLapsed`, a hold that has not reached its expiry is left alone.
 * Locks the event row before the booking row, the same order every ticket move uses.
 */
export async function releaseHold(
  em: EntityManager,
  bookingId: string,
  to: 'CANCELLED' | 'EXPIRED',
  now: Date,
  opts: { onlyIfLapsed?: boolean } = {},
): Promise<boolean> {
  const found = await em.execute<{ event_id: string }[]>('SELECT event_id FROM bookings WHERE id = ?', [bookingId]);
  const eventId = found[0]?.event_id;
  if (!eventId) return false;
  await em.execute('SELECT 1 FROM events WHERE id = ? FOR UPDATE', [eventId]);
  const released = await em.execute<{ quantity: number; paypal_order_id: string | null }[]>(
    `UPDATE bookings SET status = ?, ${STAMP[to]} = ?, updated_at = ?
     WHERE id = ? AND status = 'HELD' ${opts.onlyIfLapsed ? 'AND hold_expires_at <= ?' : ''}
     RETURNING quantity, paypal_order_id`,
    opts.onlyIfLapsed ? [to, now, now, bookingId, now] : [to, now, now, bookingId],
  );
  const row = released[0];
  if (!row) return false;
  await em.execute(
    'UPDATE events SET available = available + ?, held = held - ?, version = version + 1, updated_at = ? WHERE id = ?',
    [row.quantity, row.quantity, now, eventId],
  );
  if (row.paypal_order_id) await scheduleReconcile(em, bookingId, now);
  return true;
}

/**
 * Expires holds past their expiry for one event or one user, without waiting for the job:
 * nothing ever treats a lapsed hold as live. Returns how many were released.
 */
export async function releaseLapsedHolds(
  em: EntityManager,
  scope: { eventId: string } | { userId: string },
  now: Date,
): Promise<number> {
  const [column, value] = 'eventId' in scope ? ['event_id', scope.eventId] : ['user_id', scope.userId];
  const lapsed = await em.execute<{ id: string }[]>(
    `SELECT id FROM bookings WHERE ${column} = ? AND status = 'HELD' AND hold_expires_at <= ?`,
    [value, now],
  );
  let released = 0;
  for (const { id } of lapsed) {
    if (await em.transactional((tx) => releaseHold(tx, id, 'EXPIRED', now, { onlyIfLapsed: true }))) released += 1;
  }
  return released;
}
