import { randomUUID } from 'node:crypto';
import { Booking, type EntityManager } from '@boxoffice/db';
import { TransactionPropagation, UniqueConstraintViolationException } from '@mikro-orm/core';
import { enqueueJob, jobSpec } from '../../jobs/job-queue.ts';
import { EXPIRE_HOLD_QUEUE, RECONCILE_PAYMENT_QUEUE, WAITLIST_OFFER_QUEUE } from '../../jobs/queues.ts';
import { enqueueMail } from '../mail/mail.ts';
import { deliverTickets, voidBookingTickets } from '../tickets/tickets.service.ts';
import { judgeSale, type SaleFacts, type SaleRefusal } from './sale-rule.ts';

/**
 * The ticket ledger: the only code that moves tickets between `available`, `held` and `sold`
 * (a check in inventory.boundary.test.ts keeps it so). Every move keeps
 * `available + held + sold = capacity` (also a CHECK constraint) and takes its locks in one order:
 * the event row first, then the booking row. A refused move changes nothing and says why, in the
 * words of the one sale rule (sale-rule.ts).
 *
 * The unit of inventory is the event row, addressed by `eventId` in `lockInventory` and the
 * `UPDATE events` statements below; ticket categories would make it a row of their own keyed by
 * (event, category), a change to this file and its callers' arguments.
 */

/**
 * Every move joins the caller's transaction, or runs in one of its own. A fresh object each time:
 * MikroORM writes the transaction it used into the options it is given.
 */
const join = () => ({ propagation: TransactionPropagation.REQUIRED });

type InventoryRow = {
  status: string;
  price_minor: number;
  currency: string;
  starts_at: Date;
  available: number;
  max_per_order: number;
  max_per_user: number;
  sales_start_at: Date | null;
  sales_end_at: Date | null;
  waitlist_smallest: number | null;
  room_open: boolean;
};

let rowLock = 'FOR UPDATE';
/**
 * Test only (LEDGER_UNSAFE_SKIP_ROW_LOCK, which config refuses outside NODE_ENV=test): every move
 * reads the counts without the event's row lock, so the stress run can show it catches what follows.
 */
export function skipInventoryRowLockForTests(): void {
  rowLock = '';
}

/** The event's row lock (held to the end of the transaction), with the counts as they are now. */
async function lockInventory(em: EntityManager, eventId: string): Promise<Inventory | null> {
  const [row] = await em.execute<InventoryRow[]>(`SELECT ${INVENTORY_COLUMNS} FROM events WHERE id = ? ${rowLock}`, [
    eventId,
  ]);
  return row ? toInventory(row) : null;
}

const INVENTORY_COLUMNS = `status, price_minor, currency, starts_at, available, max_per_order, max_per_user,
  sales_start_at, sales_end_at,
  (SELECT min(w.quantity) FROM waitlist_entries w WHERE w.event_id = events.id AND w.status = 'waiting')
    AS waitlist_smallest,
  EXISTS (SELECT 1 FROM waiting_rooms r WHERE r.event_id = events.id AND r.finished_at IS NULL) AS room_open`;

type Inventory = NonNullable<SaleFacts['event']> & { priceMinor: number; currency: string; roomOpen: boolean };

function toInventory(row: InventoryRow): Inventory {
  return {
    status: row.status,
    priceMinor: row.price_minor,
    currency: row.currency.trim(),
    startsAt: new Date(row.starts_at),
    available: row.available,
    maxPerOrder: row.max_per_order,
    maxPerUser: row.max_per_user,
    salesStartAt: row.sales_start_at === null ? null : new Date(row.sales_start_at),
    salesEndAt: row.sales_end_at === null ? null : new Date(row.sales_end_at),
    waitlistSmallest: row.waitlist_smallest,
    roomOpen: row.room_open,
  };
}

type Admission = NonNullable<SaleFacts['admission']>;

/**
 * While an event's waiting room decides who may book (it exists, is not finished and the sale has
 * opened), each buyer's admission; null when no room decides. Read after `lockInventory`, like
 * the buyer's facts, so an admission the room's job committed before the lock is seen.
 */
async function admissionsOf(
  em: EntityManager,
  event: Inventory,
  eventId: string,
  userIds: string[],
  now: Date,
): Promise<Map<string, Admission> | null> {
  if (!event.roomOpen || !event.salesStartAt || now.getTime() < event.salesStartAt.getTime()) return null;
  const rows = await em.execute<{ user_id: string; valid: boolean }[]>(
    `SELECT user_id, admission_expires_at > ? AS valid FROM queue_entries
      WHERE event_id = ? AND user_id = ANY(?::uuid[]) AND admitted_at IS NOT NULL`,
    [now, eventId, `{${userIds.join(',')}}`],
  );
  const found = new Map(rows.map((row) => [row.user_id, row.valid ? 'valid' : 'expired'] as const));
  return new Map(userIds.map((id) => [id, found.get(id) ?? 'none']));
}

type BuyerFacts = { owned: number; hasOpenHold: boolean; openHoldLapsed: boolean };
const NO_BOOKINGS: BuyerFacts = { owned: 0, hasOpenHold: false, openHoldLapsed: false };

/**
 * The buyer's tickets for this event (held or paid) and whether they hold any booking open. Read in
 * a statement of its own after `lockInventory`, so it sees every move committed before the lock
 * was granted (a statement's snapshot predates the lock it waits for).
 */
async function buyerFacts(em: EntityManager, userId: string, eventId: string, now: Date): Promise<BuyerFacts> {
  const [row] = await em.execute<{ owned: number; open_hold: boolean | null; open_lapsed: boolean | null }[]>(
    `SELECT coalesce(sum(quantity) FILTER (WHERE event_id = ?), 0)::int AS owned,
            bool_or(status = 'HELD') AS open_hold,
            bool_or(status = 'HELD' AND hold_expires_at <= ?) AS open_lapsed
       FROM bookings
      WHERE user_id = ? AND (status = 'HELD' OR (event_id = ? AND status = 'CONFIRMED'))`,
    [eventId, now, userId, eventId],
  );
  return { owned: row?.owned ?? 0, hasOpenHold: row?.open_hold === true, openHoldLapsed: row?.open_lapsed === true };
}

export type TakeRequest = {
  userId: string;
  eventId: string;
  quantity: number;
  now: Date;
  /** When an unpaid hold lapses (ignored for a sale). */
  holdExpiresAt: Date;
  /** `offer`: a hold placed for a buyer on the waitlist (sale-rule.ts, SaleKind). */
  kind?: 'hold' | 'offer';
};

export type TakeResult = { ok: true; booking: Booking } | { ok: false; refusal: SaleRefusal };

/**
 * Takes tickets off sale for a buyer if the sale rule allows it now: available → held with a HELD
 * booking and its expiry job, or, for a free event (nothing to pay, so nothing to wait for),
 * available → sold with a CONFIRMED booking at once. Holds that already lapsed do not stand in
 * the way: the buyer's own is released and this event's are expired under its lock.
 * Protects: no oversell (the count is decided under the event's row lock), one open hold per buyer
 * (a partial unique index is the arbiter), available + held + sold = capacity.
 */
export async function takeTickets(em: EntityManager, request: TakeRequest): Promise<TakeResult> {
  for (let attempt = 0; ; attempt++) {
    let result: TakeResult & { retryAfterReleasingOwnHold?: boolean };
    try {
      result = await em.transactional((tx) => takeUnderLock(tx, request, attempt === 0), join());
    } catch (error) {
      // another request of this buyer placed a hold between our read and our insert
      if (error instanceof UniqueConstraintViolationException)
        return { ok: false, refusal: { reason: 'HOLD_ALREADY_OPEN' } };
      throw error;
    }
    if (!result.ok && result.retryAfterReleasingOwnHold && attempt === 0) {
      // the buyer's open hold lapsed, possibly for another event: released on its own (lock order)
      if ((await releaseLapsedHolds(em, { userId: request.userId }, request.now)) > 0) continue;
    }
    const { retryAfterReleasingOwnHold: _, ...answer } = result;
    return answer;
  }
}

async function takeUnderLock(
  em: EntityManager,
  request: TakeRequest,
  mayRetry: boolean,
): Promise<TakeResult & { retryAfterReleasingOwnHold?: boolean }> {
  const { userId, eventId, quantity, now } = request;
  const event = await lockInventory(em, eventId);
  const kind = event?.priceMinor === 0 ? 'sale' : 'hold';
  const buyer = event ? await buyerFacts(em, userId, eventId, now) : NO_BOOKINGS;
  // a free booking places no hold, so the one-open-hold rule (about unpaid holds) does not apply to it
  const admissions = event ? await admissionsOf(em, event, eventId, [userId], now) : null;
  const facts: SaleFacts = {
    event,
    owned: buyer.owned,
    hasOpenHold: kind === 'hold' && buyer.hasOpenHold,
    admission: admissions?.get(userId),
  };
  const saleKind = request.kind ?? 'hold';
  let refusal = judgeSale(facts, quantity, now, saleKind);
  if (refusal?.reason === 'HOLD_ALREADY_OPEN' && buyer.openHoldLapsed && mayRetry)
    return { ok: false, refusal, retryAfterReleasingOwnHold: true };
  if (refusal?.reason === 'SOLD_OUT' && event) {
    // sold out only on paper, because of holds that lapsed before their expiry job ran?
    const freed = ticketsOf(await expireLapsedHoldsOfLockedEvent(em, eventId, now));
    if (freed > 0) {
      event.available += freed;
      refusal = judgeSale(facts, quantity, now, saleKind);
    }
  }
  if (refusal) return { ok: false, refusal };

  const status = kind === 'hold' ? 'HELD' : 'CONFIRMED';
  const [row] = await em.execute<Record<string, unknown>[]>(
    // the event row is locked and the rule allowed it, so the CHECK constraint never fires here
    `WITH moved AS (
       UPDATE events SET available = available - ?, ${kind === 'hold' ? 'held = held + ?' : 'sold = sold + ?'},
                         updated_at = ?
        WHERE id = ? RETURNING price_minor, currency)
     INSERT INTO bookings (id, user_id, event_id, quantity, unit_price_minor, total_minor, currency, status,
                           hold_expires_at, confirmed_at, created_at, updated_at)
     SELECT ?, ?, ?, ?, price_minor, price_minor * ?, trim(currency), ?, ?, ?, ?, ? FROM moved
     RETURNING *`,
    [
      quantity,
      quantity,
      now,
      eventId,
      randomUUID(),
      userId,
      eventId,
      quantity,
      quantity,
      status,
      kind === 'hold' ? request.holdExpiresAt : now,
      kind === 'hold' ? null : now,
      now,
      now,
    ],
  );
  const booking = em.map(Booking, row as Record<string, unknown>);
  // a free sale is confirmed here: its tickets are issued in this transaction
  if (kind === 'sale') await deliverTickets(em, [booking.id], now);
  if (kind === 'hold')
    await enqueueJob(em, {
      queue: EXPIRE_HOLD_QUEUE,
      payload: { bookingId: booking.id },
      runAt: request.holdExpiresAt,
      dedupeKey: booking.id,
    });
  return { ok: true, booking };
}

/** A take that waits its turn in a batch (hold-queue.ts); `mayRetry` as in `takeTickets`' first attempt. */
export type BatchedTake = TakeRequest & { mayRetry: boolean };

export type BatchedTakeResult = TakeResult & { retryAfterReleasingOwnHold?: boolean };

type Decision = { take: true } | { take: false; refusal: SaleRefusal; retry: boolean };

/**
 * The sale rule applied to each request in the order given, against counts that move as the
 * requests before it take tickets: as if they had come one after another. Buyers in `conflicted`
 * turned out to hold a booking that committed after their facts were read.
 */
function planTogether(
  event: Inventory,
  kind: 'hold' | 'sale',
  requests: BatchedTake[],
  buyers: Map<string, BuyerFacts>,
  conflicted: Set<string>,
  admissions: Map<string, Admission> | null,
): { decisions: Decision[]; soldOut: boolean } {
  const running = new Map<string, BuyerFacts>();
  const counts = { ...event };
  let soldOut = false;
  const decisions = requests.map((request): Decision => {
    let buyer = running.get(request.userId);
    if (!buyer) {
      const conflict = conflicted.has(request.userId) ? OPEN_HOLD : {};
      buyer = { ...NO_BOOKINGS, ...buyers.get(request.userId), ...conflict };
      running.set(request.userId, buyer);
    }
    const facts: SaleFacts = {
      event: counts,
      owned: buyer.owned,
      hasOpenHold: kind === 'hold' && buyer.hasOpenHold,
      admission: admissions?.get(request.userId),
    };
    const refusal = judgeSale(facts, request.quantity, request.now, request.kind ?? 'hold');
    if (refusal) {
      if (refusal.reason === 'SOLD_OUT') soldOut = true;
      const retry = refusal.reason === 'HOLD_ALREADY_OPEN' && buyer.openHoldLapsed && request.mayRetry;
      return { take: false, refusal, retry };
    }
    counts.available -= request.quantity;
    buyer.owned += request.quantity;
    if (kind === 'hold') Object.assign(buyer, OPEN_HOLD);
    return { take: true };
  });
  return { decisions, soldOut };
}

const OPEN_HOLD = { hasOpenHold: true, openHoldLapsed: false } as const;

/** `buyerFacts` for several buyers in one statement, read after the event's lock like it. */
async function buyersFacts(
  em: EntityManager,
  userIds: string[],
  eventId: string,
  now: Date,
): Promise<Map<string, BuyerFacts>> {
  const rows = await em.execute<
    { user_id: string; owned: number; open_hold: boolean | null; open_lapsed: boolean | null }[]
  >(
    `SELECT user_id,
            coalesce(sum(quantity) FILTER (WHERE event_id = ?), 0)::int AS owned,
            bool_or(status = 'HELD') AS open_hold,
            bool_or(status = 'HELD' AND hold_expires_at <= ?) AS open_lapsed
       FROM bookings
      WHERE user_id = ANY(?::uuid[]) AND (status = 'HELD' OR (event_id = ? AND status = 'CONFIRMED'))
      GROUP BY user_id`,
    [eventId, now, `{${userIds.join(',')}}`, eventId],
  );
  return new Map(
    rows.map((row) => [
      row.user_id,
      { owned: row.owned, hasOpenHold: row.open_hold === true, openHoldLapsed: row.open_lapsed === true },
    ]),
  );
}

/**
 * Takes tickets for several buyers of one event in one transaction (the batches of hold-queue.ts):
 * one lock of the event row, every buyer's facts in one statement after it, the sale rule applied
 * to each request in the order given against the running counts, then one statement that inserts
 * the bookings it allowed with their expiry jobs and moves the counts by exactly what was inserted.
 * Each request gets its own answer, the one `takeTickets` would have given it in that order.
 * Protects: as `takeTickets`. The one-open-hold index stays the arbiter: a buyer whose hold
 * elsewhere committed after the read is skipped (ON CONFLICT DO NOTHING) and refused, and the
 * others are judged again without that request, so one buyer's conflict fails nobody else.
 */
export async function takeTicketsTogether(
  em: EntityManager,
  eventId: string,
  requests: BatchedTake[],
): Promise<BatchedTakeResult[]> {
  return em.transactional(async (tx) => {
    const event = await lockInventory(tx, eventId);
    if (!event) return requests.map(() => ({ ok: false, refusal: { reason: 'EVENT_NOT_FOUND' } }));
    const kind = event.priceMinor === 0 ? 'sale' : 'hold';
    const now = new Date(Math.max(...requests.map((request) => request.now.getTime())));
    const userIds = [...new Set(requests.map((r) => r.userId))];
    const buyers = await buyersFacts(tx, userIds, eventId, now);
    const admissions = await admissionsOf(tx, event, eventId, userIds, now);
    const conflicted = new Set<string>();
    let plan = planTogether(event, kind, requests, buyers, conflicted, admissions);
    if (plan.soldOut) {
      // sold out only on paper, because of holds that lapsed before their expiry job ran?
      const expired = await expireLapsedHoldsOfLockedEvent(tx, eventId, now);
      if (expired.length > 0) {
        event.available += ticketsOf(expired);
        for (const row of expired) {
          const buyer = buyers.get(row.user_id);
          // a buyer has one HELD booking at most, and this was it
          if (buyer)
            Object.assign(buyer, { owned: buyer.owned - row.quantity, hasOpenHold: false, openHoldLapsed: false });
        }
        plan = planTogether(event, kind, requests, buyers, conflicted, admissions);
      }
    }
    const booked = new Map<number, Booking>();
    for (;;) {
      const fresh = plan.decisions.flatMap((decision, i) => (decision.take && !booked.has(i) ? [i] : []));
      if (fresh.length === 0) break;
      const ids = fresh.map(() => randomUUID());
      const rows = await insertTogether(
        tx,
        eventId,
        event,
        kind,
        fresh.map((i, n) => ({ id: ids[n] as string, request: requests[i] as BatchedTake })),
        now,
      );
      const inserted = new Map(rows.map((row) => [row.id as string, row]));
      let skipped = false;
      fresh.forEach((i, n) => {
        const row = inserted.get(ids[n] as string);
        if (row) booked.set(i, bookingFromRow(row));
        else {
          skipped = true;
          conflicted.add((requests[i] as BatchedTake).userId);
        }
      });
      if (!skipped) break;
      // the ones that took tickets still do (the skipped requests only leave more), others may now
      plan = planTogether(event, kind, requests, buyers, conflicted, admissions);
    }
    // a free sale is confirmed here: its tickets are issued in this transaction
    if (kind === 'sale')
      await deliverTickets(
        tx,
        [...booked.values()].map((booking) => booking.id),
        now,
      );
    return requests.map((_, i): BatchedTakeResult => {
      const booking = booked.get(i);
      if (booking) return { ok: true, booking };
      const decision = plan.decisions[i] as Decision;
      if (decision.take) throw new Error('a planned take was neither inserted nor refused');
      return decision.retry
        ? { ok: false, refusal: decision.refusal, retryAfterReleasingOwnHold: true }
        : { ok: false, refusal: decision.refusal };
    });
  }, join());
}

/**
 * A booking row in the entity's shape. The rows a batch inserts are answered and never changed
 * through the ORM, so they skip its identity map and change tracking (a tenth of a batched hold's
 * CPU when they went through `em.map`).
 */
function bookingFromRow(row: Record<string, unknown>): Booking {
  const at = (value: unknown) => (value === null ? null : new Date(value as string | Date));
  return {
    id: row.id,
    userId: row.user_id,
    eventId: row.event_id,
    quantity: row.quantity,
    unitPriceMinor: row.unit_price_minor,
    totalMinor: row.total_minor,
    currency: row.currency,
    status: row.status,
    holdExpiresAt: at(row.hold_expires_at),
    paypalOrderId: row.paypal_order_id,
    paypalCaptureId: row.paypal_capture_id,
    paymentUrl: row.payment_url,
    createdAt: at(row.created_at),
    updatedAt: at(row.updated_at),
    confirmedAt: at(row.confirmed_at),
    cancelledAt: at(row.cancelled_at),
    expiredAt: at(row.expired_at),
    refundedAt: at(row.refunded_at),
    refundDueAt: at(row.refund_due_at),
  } as Booking;
}

/**
 * The allowed requests of a batch in one statement: their bookings (a buyer who meanwhile holds
 * another booking is skipped by the one-open-hold index), the counts moved by what was inserted,
 * and an expiry job per hold. Returns the inserted rows.
 */
async function insertTogether(
  em: EntityManager,
  eventId: string,
  event: Inventory,
  kind: 'hold' | 'sale',
  takes: { id: string; request: BatchedTake }[],
  now: Date,
): Promise<Record<string, unknown>[]> {
  const status = kind === 'hold' ? 'HELD' : 'CONFIRMED';
  const input = takes.map(({ id, request }, ord) => ({
    id,
    user_id: request.userId,
    quantity: request.quantity,
    hold_expires_at: (kind === 'hold' ? request.holdExpiresAt : request.now).toISOString(),
    confirmed_at: kind === 'hold' ? null : request.now.toISOString(),
    created_at: request.now.toISOString(),
    ord,
  }));
  const jobs =
    kind === 'hold'
      ? takes.map(({ id, request }) =>
          jobSpec(EXPIRE_HOLD_QUEUE, { bookingId: id }, { runAt: request.holdExpiresAt, jobKey: id }),
        )
      : [];
  return em.execute<Record<string, unknown>[]>(
    `WITH input AS (
       SELECT * FROM json_to_recordset(?::json) AS r(id uuid, user_id uuid, quantity int, hold_expires_at timestamptz,
                                                    confirmed_at timestamptz, created_at timestamptz, ord int)
     ), ins AS (
       INSERT INTO bookings (id, user_id, event_id, quantity, unit_price_minor, total_minor, currency, status,
                             hold_expires_at, confirmed_at, created_at, updated_at)
       SELECT id, user_id, ?, quantity, ?, ? * quantity, ?, ?, hold_expires_at, confirmed_at, created_at, created_at
         FROM input ORDER BY ord
       ON CONFLICT (user_id) WHERE status = 'HELD' DO NOTHING
       RETURNING *
     ), moved AS (
       -- the event row is locked and the rule allowed every row, so the CHECK constraint never fires here
       UPDATE events SET available = available - taken.n, ${kind === 'hold' ? 'held = held + taken.n' : 'sold = sold + taken.n'},
                         updated_at = ?
         FROM (SELECT sum(quantity)::int AS n FROM ins) taken
        WHERE events.id = ? AND taken.n > 0
     ), jobs AS MATERIALIZED (
       SELECT count(*) FROM graphile_worker.add_jobs(ARRAY(
         SELECT ROW(s.identifier, s.payload, NULL, s.run_at, s.max_attempts, s.job_key, NULL, NULL)::graphile_worker.job_spec
           FROM json_to_recordset(?::json) AS s(identifier text, payload json, run_at timestamptz, max_attempts int, job_key text)
           JOIN ins ON ins.id = (s.payload->>'bookingId')::uuid))
        WHERE ?
     )
     SELECT ins.* FROM ins, jobs`,
    [
      JSON.stringify(input),
      eventId,
      event.priceMinor,
      event.priceMinor,
      event.currency,
      status,
      now,
      eventId,
      JSON.stringify(jobs),
      jobs.length > 0,
    ],
  );
}

/**
 * A released hold may still have money behind it (a capture whose answer was lost, a payment
 * racing the release): a job asks PayPal and refunds whatever was taken for it.
 */
async function followMoneyOf(em: EntityManager, released: { id: string; paypal_order_id: string | null }[], now: Date) {
  for (const row of released)
    if (row.paypal_order_id)
      await enqueueJob(em, {
        queue: RECONCILE_PAYMENT_QUEUE,
        payload: { bookingId: row.id },
        runAt: now,
        dedupeKey: row.id,
      });
}

type ReleasedRow = { id: string; quantity: number; paypal_order_id: string | null };

const ticketsOf = (rows: { quantity: number }[]) => rows.reduce((sum, row) => sum + Number(row.quantity), 0);

/** Puts the tickets of released holds back on sale. The caller holds the event's row lock. */
async function returnHeldTickets(em: EntityManager, eventId: string, released: ReleasedRow[], now: Date) {
  const tickets = ticketsOf(released);
  if (tickets === 0) return;
  // held → available for exactly the bookings whose status this transaction just moved off HELD
  await em.execute('UPDATE events SET available = available + ?, held = held - ?, updated_at = ? WHERE id = ?', [
    tickets,
    tickets,
    now,
    eventId,
  ]);
  await followMoneyOf(em, released, now);
  await offerReturnedTickets(em, eventId, now);
}

/**
 * Tickets came back on sale (a release, a refund): when buyers wait on the event's waitlist, its
 * offer job runs, in this transaction's commit (one job per event, by its key; ahead of other
 * jobs, like the waiting room's admissions). The one place that hands returned tickets to the waitlist.
 */
async function offerReturnedTickets(em: EntityManager, eventId: string, now: Date): Promise<void> {
  const spec = jobSpec(WAITLIST_OFFER_QUEUE, { eventId }, { runAt: now, jobKey: eventId });
  await em.execute(
    `SELECT graphile_worker.add_job(?, ?::json, run_at => ?::timestamptz, max_attempts => ?, job_key => ?,
                                    job_key_mode => 'replace', priority => -10)
      WHERE EXISTS (SELECT 1 FROM waitlist_entries WHERE event_id = ? AND status IN ('waiting', 'offered'))`,
    [spec.identifier, JSON.stringify(spec.payload), spec.run_at, spec.max_attempts, spec.job_key, eventId],
  );
}

/** Expires this event's lapsed holds; the caller holds the event's row lock. Returns the holds released. */
async function expireLapsedHoldsOfLockedEvent(
  em: EntityManager,
  eventId: string,
  now: Date,
): Promise<(ReleasedRow & { user_id: string })[]> {
  const released = await em.execute<(ReleasedRow & { user_id: string })[]>(
    `UPDATE bookings SET status = 'EXPIRED', expired_at = ?, updated_at = ?
      WHERE event_id = ? AND status = 'HELD' AND hold_expires_at <= ?
      RETURNING id, user_id, quantity, paypal_order_id`,
    [now, now, eventId, now],
  );
  await returnHeldTickets(em, eventId, released, now);
  return released;
}

const RELEASE_STAMP = { CANCELLED: 'cancelled_at', EXPIRED: 'expired_at' } as const;

/**
 * Ends a hold (HELD → CANCELLED or EXPIRED) and puts its tickets back on sale, exactly once: the
 * status condition means a second caller (a duplicate callback, another worker) changes nothing.
 * With `onlyIfLapsed`, a hold that has not reached its expiry is left alone.
 */
export async function releaseHold(
  em: EntityManager,
  bookingId: string,
  to: 'CANCELLED' | 'EXPIRED',
  now: Date,
  opts: { onlyIfLapsed?: boolean } = {},
): Promise<boolean> {
  return em.transactional(async (tx) => {
    const [found] = await tx.execute<{ event_id: string }[]>('SELECT event_id FROM bookings WHERE id = ?', [bookingId]);
    if (!found) return false;
    await lockInventory(tx, found.event_id);
    const released = await tx.execute<ReleasedRow[]>(
      `UPDATE bookings SET status = ?, ${RELEASE_STAMP[to]} = ?, updated_at = ?
        WHERE id = ? AND status = 'HELD' ${opts.onlyIfLapsed ? 'AND hold_expires_at <= ?' : ''}
        RETURNING id, quantity, paypal_order_id`,
      opts.onlyIfLapsed ? [to, now, now, bookingId, now] : [to, now, now, bookingId],
    );
    await returnHeldTickets(tx, found.event_id, released, now);
    return released.length > 0;
  }, join());
}

/**
 * Expires holds past their expiry for one event or one buyer without waiting for their jobs, so
 * nothing treats a lapsed hold as live. Returns how many were released.
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
  for (const { id } of lapsed) if (await releaseHold(em, id, 'EXPIRED', now, { onlyIfLapsed: true })) released += 1;
  return released;
}

/**
 * Cancels every open hold of an event (the event is being cancelled) and returns how many. The
 * caller's transaction should already hold the event's row lock; it is taken again here regardless.
 */
export async function releaseEventHolds(em: EntityManager, eventId: string, now: Date): Promise<number> {
  return em.transactional(async (tx) => {
    await lockInventory(tx, eventId);
    const released = await tx.execute<ReleasedRow[]>(
      `UPDATE bookings SET status = 'CANCELLED', cancelled_at = ?, updated_at = ?
        WHERE event_id = ? AND status = 'HELD' RETURNING id, quantity, paypal_order_id`,
      [now, now, eventId],
    );
    await returnHeldTickets(tx, eventId, released, now);
    return released.length;
  }, join());
}

export type ConfirmResult = 'confirmed' | 'already_confirmed' | 'no_tickets' | 'not_open';

/**
 * Sells a paid booking's tickets: held → sold for a live hold, or available → sold for a hold that
 * lapsed while its buyer paid, if the sale rule still allows it. Decided on the booking's status
 * as it is under the locks, so a cancel or expiry that raced the payment is seen. When the answer
 * is no, the booking is marked `refund_due_at` under the same locks: from then on no later visit
 * can revive it, and the money is given back.
 */
export async function confirmSale(
  em: EntityManager,
  bookingId: string,
  captureId: string | null,
  now: Date,
): Promise<ConfirmResult> {
  return em.transactional(async (tx) => {
    const [info] = await tx.execute<{ event_id: string }[]>('SELECT event_id FROM bookings WHERE id = ?', [bookingId]);
    if (!info) return 'not_open';
    const event = await lockInventory(tx, info.event_id);
    const [row] = await tx.execute<{ status: string; quantity: number; user_id: string; refund_due_at: unknown }[]>(
      'SELECT status, quantity, user_id, refund_due_at FROM bookings WHERE id = ? FOR UPDATE',
      [bookingId],
    );
    if (!row) return 'not_open';
    if (row.status === 'CONFIRMED') return 'already_confirmed';
    const refuse = async (result: ConfirmResult) => {
      await tx.execute('UPDATE bookings SET refund_due_at = coalesce(refund_due_at, ?) WHERE id = ?', [now, bookingId]);
      return result;
    };
    if (row.status === 'EXPIRED') {
      if (row.refund_due_at) return 'not_open';
      const buyer = await buyerFacts(tx, row.user_id, info.event_id, now);
      if (judgeSale({ event, owned: buyer.owned, hasOpenHold: false }, row.quantity, now, 'revive'))
        return refuse('no_tickets');
      // available → sold: the rule allowed it under this lock
      await tx.execute('UPDATE events SET available = available - ?, sold = sold + ?, updated_at = ? WHERE id = ?', [
        row.quantity,
        row.quantity,
        now,
        info.event_id,
      ]);
    } else if (row.status === 'HELD') {
      // held → sold: these tickets were taken off sale for this booking when it was held
      await tx.execute('UPDATE events SET held = held - ?, sold = sold + ?, updated_at = ? WHERE id = ?', [
        row.quantity,
        row.quantity,
        now,
        info.event_id,
      ]);
    } else {
      return refuse('not_open');
    }
    await tx.execute(
      `UPDATE bookings SET status = 'CONFIRMED', paypal_capture_id = ?, confirmed_at = ?, updated_at = ?
        WHERE id = ? AND status = ?`,
      [captureId, now, now, bookingId, row.status],
    );
    // the booking is CONFIRMED in this transaction, and so its tickets exist exactly when it does
    await deliverTickets(tx, [bookingId], now);
    return 'confirmed';
  }, join());
}

/**
 * Whether a lapsed hold could be revived now, asked before any money is taken (no lock: the
 * confirmation decides again under it).
 */
export async function canRevive(em: EntityManager, booking: Booking, now: Date): Promise<boolean> {
  if (booking.refundDueAt) return false;
  const [row] = await em.execute<InventoryRow[]>(`SELECT ${INVENTORY_COLUMNS} FROM events WHERE id = ?`, [
    booking.eventId,
  ]);
  const buyer = await buyerFacts(em, booking.userId, booking.eventId, now);
  const facts: SaleFacts = { event: row ? toInventory(row) : null, owned: buyer.owned, hasOpenHold: false };
  return judgeSale(facts, booking.quantity, now, 'revive') === null;
}

export type RefundMove = { refunded: boolean; ticketsReturned: boolean };

/**
 * A paid booking's money went back: CONFIRMED → REFUNDED, once. Its tickets go back on sale
 * (sold → available) while the event is still ahead; after it started they stay counted as sold.
 */
export async function refundSale(em: EntityManager, bookingId: string, now: Date): Promise<RefundMove> {
  return em.transactional(async (tx) => {
    const [info] = await tx.execute<{ event_id: string }[]>('SELECT event_id FROM bookings WHERE id = ?', [bookingId]);
    if (!info) return { refunded: false, ticketsReturned: false };
    const event = await lockInventory(tx, info.event_id);
    const [row] = await tx.execute<{ quantity: number }[]>(
      `UPDATE bookings SET status = 'REFUNDED', refunded_at = ?, updated_at = ?
        WHERE id = ? AND status = 'CONFIRMED' RETURNING quantity`,
      [now, now, bookingId],
    );
    if (!row) return { refunded: false, ticketsReturned: false };
    // the money went back: the tickets admit no one, and the buyer is told once
    await voidBookingTickets(tx, bookingId, now);
    await enqueueMail(tx, { kind: 'booking-refunded', bookingId }, now);
    const ahead = event !== null && event.startsAt.getTime() > now.getTime();
    // sold → available for exactly the booking this transaction moved off CONFIRMED
    if (ahead) {
      await tx.execute('UPDATE events SET available = available + ?, sold = sold - ?, updated_at = ? WHERE id = ?', [
        row.quantity,
        row.quantity,
        now,
        info.event_id,
      ]);
      await offerReturnedTickets(tx, info.event_id, now);
    }
    return { refunded: true, ticketsReturned: ahead };
  }, join());
}

/** The counts a new event opens with: every ticket on sale. */
export function openingInventory(capacity: number) {
  return { capacity, available: capacity, held: 0, sold: 0 };
}

export type ResizeResult = { ok: true } | { ok: false; held: number; sold: number };

/**
 * Sets an event's capacity; what is not held or sold is on sale. Refused below the tickets already
 * held or sold. Protects: available + held + sold = capacity with available ≥ 0.
 */
export async function resizeInventory(
  em: EntityManager,
  eventId: string,
  capacity: number,
  now: Date,
): Promise<ResizeResult> {
  return em.transactional(async (tx) => {
    await lockInventory(tx, eventId);
    const [row] = await tx.execute<{ held: number; sold: number; resized: boolean }[]>(
      `WITH current AS (SELECT held, sold FROM events WHERE id = ?),
            resized AS (
              UPDATE events SET capacity = ?, available = ? - held - sold, updated_at = ?
               WHERE id = ? AND held + sold <= ? RETURNING id)
       SELECT current.held, current.sold, EXISTS (SELECT 1 FROM resized) AS resized FROM current`,
      [eventId, capacity, capacity, now, eventId, capacity],
    );
    if (!row || row.resized) return { ok: true };
    return { ok: false, held: row.held, sold: row.sold };
  }, join());
}
