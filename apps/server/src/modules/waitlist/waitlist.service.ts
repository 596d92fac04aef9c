import { randomUUID } from 'node:crypto';
import {
  DomainError,
  type JoinWaitlistInput,
  type WaitlistEntry,
  type WaitlistState,
  type WaitlistStateInput,
  type WaitlistStatus,
} from '@boxoffice/contracts';
import type { EntityManager } from '@boxoffice/db';
import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import { decodeCursor, encodeCursor } from '../../lib/cursor.ts';
import type { AuthUser } from '../auth/tokens.ts';
import { releaseHold, releaseLapsedHolds, takeTickets } from '../inventory/ledger.ts';

/**
 * The waitlist of a sold-out event (docs/architecture.md, "Waitlist"). Buyers join in order; when
 * tickets come back on sale (a hold lapses, a cancel, a refund) the ledger schedules the event's
 * `waitlist-offer` job in the same transaction, and the job offers them to the first buyer in line
 * whose quantity fits: a hold placed for that buyer through the ledger (kind `offer`), with its own
 * expiry, and a mail with the payment link. An offer not paid in time lapses like any hold, which
 * returns the tickets, and the job offers them to the next in line. Until then the sale rule keeps
 * plain orders off tickets the waitlist can take.
 */

export type WaitlistConfig = {
  clock: Clock;
  offerMinutes: number;
  /** Where the buyer pays for an offer's hold (a link of ours with an opaque reference, no credential). */
  paymentLink: (bookingId: string) => string;
  /** Tells the buyer about an offer (mail); wired at the composition root. */
  onOffer?: (em: EntityManager, bookingId: string, now: Date) => Promise<void>;
};

export type WaitlistDeps = WaitlistConfig & { em: EntityManager };

type EntryRow = {
  id: string;
  seq: string;
  event_id: string;
  user_id: string;
  quantity: number;
  status: WaitlistStatus;
  joined_at: Date;
  offered_at: Date | null;
  offer_expires_at: Date | null;
  booking_id: string | null;
  booking_status: string | null;
  position: number | null;
};

const iso = (value: Date | string) => new Date(value).toISOString();

/** An offer whose hold is no longer open reads as what became of it, before the job settles it. */
function effectiveStatus(row: Pick<EntryRow, 'status' | 'booking_status'>): WaitlistStatus {
  if (row.status !== 'offered' || row.booking_status === null || row.booking_status === 'HELD') return row.status;
  return row.booking_status === 'CONFIRMED' ? 'booked' : 'passed';
}

/** The buyer's latest entry for the event, with their place while waiting; writes nothing. */
async function readEntry(em: EntityManager, userId: string, eventId: string): Promise<EntryRow | null> {
  const [row] = await em.execute<EntryRow[]>(
    `SELECT w.*, b.status AS booking_status,
            CASE WHEN w.status = 'waiting' THEN (
              SELECT count(*)::int + 1 FROM waitlist_entries o
               WHERE o.event_id = w.event_id AND o.status = 'waiting' AND o.seq < w.seq) END AS position
       FROM waitlist_entries w LEFT JOIN bookings b ON b.id = w.booking_id
      WHERE w.event_id = ? AND w.user_id = ?
      ORDER BY w.seq DESC LIMIT 1`,
    [eventId, userId],
  );
  return row ?? null;
}

function toEntryDto(deps: Pick<WaitlistDeps, 'paymentLink'>, row: EntryRow): WaitlistEntry {
  const status = effectiveStatus(row);
  return {
    eventId: row.event_id,
    quantity: row.quantity,
    status,
    position: status === 'waiting' ? row.position : null,
    joinedAt: iso(row.joined_at),
    offer:
      row.booking_id && row.offer_expires_at && (status === 'offered' || status === 'booked')
        ? {
            bookingId: row.booking_id,
            expiresAt: iso(row.offer_expires_at),
            paymentUrl: status === 'offered' ? deps.paymentLink(row.booking_id) : null,
          }
        : null,
  };
}

const notOnList = () => new DomainError('WAITLIST_ENTRY_NOT_FOUND', 'You are not on this event’s waitlist');

/**
 * Puts the buyer on a sold-out event's waitlist for `quantity` tickets; joining again while on it
 * answers with the same entry.
 */
export async function joinWaitlist(
  deps: WaitlistDeps,
  actor: AuthUser,
  input: JoinWaitlistInput,
): Promise<WaitlistEntry> {
  const now = deps.clock.now();
  const [event] = await deps.em.execute<
    { status: string; starts_at: Date; available: number; max_per_order: number; room_sold_out: boolean }[]
  >(
    `SELECT status, starts_at, max_per_order,
            available + (CASE WHEN held = 0 THEN 0 ELSE (SELECT coalesce(sum(quantity), 0)::int FROM bookings b
              WHERE b.event_id = events.id AND b.status = 'HELD' AND b.hold_expires_at <= ?) END) AS available
       FROM events WHERE id = ?`,
    [now, input.eventId],
  );
  if (!event || event.status === 'draft')
    throw new DomainError('EVENT_NOT_FOUND', 'No such event', { field: 'eventId' });
  if (event.status !== 'published')
    throw new DomainError('EVENT_NOT_ON_SALE', 'Tickets for this event are not on sale');
  if (new Date(event.starts_at).getTime() <= now.getTime())
    throw new DomainError('EVENT_PAST', 'This event has already started');
  const existing = await readEntry(deps.em, actor.id, input.eventId);
  if (existing && ['waiting', 'offered'].includes(effectiveStatus(existing))) return toEntryDto(deps, existing);
  if (input.quantity > event.max_per_order)
    throw new DomainError('LIMIT_EXCEEDED', `At most ${event.max_per_order} tickets per order`, {
      limit: 'per_order',
      max: event.max_per_order,
    });
  if (event.available > 0)
    throw new DomainError('WAITLIST_NOT_OPEN', `Tickets are on sale (${event.available} left): book instead`, {
      available: event.available,
    });
  // the open-entry index makes a second concurrent join of this buyer a no-op
  await deps.em.execute(
    `INSERT INTO waitlist_entries (id, event_id, user_id, quantity, status, joined_at, updated_at)
     VALUES (?, ?, ?, ?, 'waiting', ?, ?) ON CONFLICT (event_id, user_id) WHERE status IN ('waiting', 'offered') DO NOTHING`,
    [randomUUID(), input.eventId, actor.id, input.quantity, now, now],
  );
  return toEntryDto(deps, (await readEntry(deps.em, actor.id, input.eventId)) as EntryRow);
}

/** The buyer's place on the list (or what became of their entry). */
export async function myWaitlistEntry(deps: WaitlistDeps, actor: AuthUser, eventId: string): Promise<WaitlistEntry> {
  const row = await readEntry(deps.em, actor.id, eventId);
  if (!row) throw notOnList();
  return toEntryDto(deps, row);
}

/** Leaves the list; an open offer is given up, and its tickets go to the next in line. */
export async function leaveWaitlist(deps: WaitlistDeps, actor: AuthUser, eventId: string): Promise<WaitlistEntry> {
  const now = deps.clock.now();
  const row = await readEntry(deps.em, actor.id, eventId);
  if (!row || !['waiting', 'offered'].includes(effectiveStatus(row))) throw notOnList();
  await deps.em.transactional(async (em) => {
    // the release returns the tickets through the ledger, which schedules the next offer on commit
    if (row.status === 'offered' && row.booking_id) await releaseHold(em, row.booking_id, 'CANCELLED', now);
    await em.execute(
      `UPDATE waitlist_entries SET status = 'left', updated_at = ? WHERE id = ? AND status IN ('waiting', 'offered')`,
      [now, row.id],
    );
  });
  return toEntryDto(deps, (await readEntry(deps.em, actor.id, eventId)) as EntryRow);
}

/** Offers settle as their holds did: paid → booked, released or lapsed → passed. */
async function settleOffers(em: EntityManager, eventId: string, now: Date): Promise<void> {
  await em.execute(
    `UPDATE waitlist_entries w
        SET status = CASE WHEN b.status = 'CONFIRMED' THEN 'booked' ELSE 'passed' END, updated_at = ?
       FROM bookings b
      WHERE w.booking_id = b.id AND w.event_id = ? AND w.status = 'offered' AND b.status <> 'HELD'`,
    [now, eventId],
  );
}

const waitlistLockKey = (eventId: string) => `waitlist:${eventId}`;

/**
 * The `waitlist-offer` job: offers tickets on sale to the first buyers in line whose quantity fits,
 * one hold each, until none fits. Under the event's waitlist lock (one offer run at a time per
 * event, whichever worker runs it). Returns the bookings offered.
 */
export async function offerTickets(deps: WaitlistDeps, eventId: string): Promise<string[]> {
  const now = deps.clock.now();
  // offers whose time ran out before their expiry job release their tickets first (through the ledger)
  await releaseLapsedHolds(deps.em, { eventId }, now);
  return deps.em.transactional(async (em) => {
    await em.execute('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [waitlistLockKey(eventId)]);
    await settleOffers(em, eventId, now);
    const offered: string[] = [];
    const skipped: string[] = [];
    for (;;) {
      const [next] = await em.execute<{ id: string; user_id: string; quantity: number }[]>(
        `SELECT w.id, w.user_id, w.quantity FROM waitlist_entries w, events e
          WHERE w.event_id = ? AND e.id = w.event_id AND w.status = 'waiting' AND w.quantity <= e.available
            AND NOT (w.id = ANY(?::uuid[]))
          ORDER BY w.seq LIMIT 1`,
        [eventId, `{${skipped.join(',')}}`],
      );
      if (!next) return offered;
      const holdExpiresAt = new Date(now.getTime() + deps.offerMinutes * 60_000);
      const taken = await takeTickets(em, {
        userId: next.user_id,
        eventId,
        quantity: next.quantity,
        now,
        holdExpiresAt,
        kind: 'offer',
      });
      if (!taken.ok) {
        // sold out after all, or the sale is over: nothing more to offer now
        if (['SOLD_OUT', 'SALES_ENDED', 'EVENT_PAST', 'EVENT_NOT_ON_SALE'].includes(taken.refusal.reason))
          return offered;
        // this buyer cannot take them now (a hold elsewhere, their limit): they keep their place
        skipped.push(next.id);
        continue;
      }
      const booking = taken.booking;
      await em.execute(
        `UPDATE waitlist_entries SET status = ?, booking_id = ?, offered_at = ?, offer_expires_at = ?, updated_at = ?
          WHERE id = ?`,
        [booking.status === 'HELD' ? 'offered' : 'booked', booking.id, now, holdExpiresAt, now, next.id],
      );
      await deps.onOffer?.(em, booking.id, now);
      offered.push(booking.id);
    }
  });
}

const WaitlistCursorSchema = z.tuple([z.string().regex(/^\d+$/)]);

/** Admin: the list's counts by status and its entries in order. */
export async function waitlistState(deps: Pick<WaitlistDeps, 'em'>, input: WaitlistStateInput): Promise<WaitlistState> {
  const [event] = await deps.em.execute<{ id: string }[]>('SELECT id FROM events WHERE id = ?', [input.eventId]);
  if (!event) throw new DomainError('EVENT_NOT_FOUND', 'No such event', { field: 'eventId' });
  const rows = await deps.em.execute<EntryRow[]>(
    `SELECT w.*, b.status AS booking_status, NULL AS position
       FROM waitlist_entries w LEFT JOIN bookings b ON b.id = w.booking_id
      WHERE w.event_id = ? ORDER BY w.seq`,
    [input.eventId],
  );
  const counts = { waiting: 0, offered: 0, booked: 0, passed: 0, left: 0 };
  for (const row of rows) counts[effectiveStatus(row)] += 1;
  const after = input.cursor ? BigInt(decodeCursor(input.cursor, WaitlistCursorSchema)[0]) : -1n;
  const listed = rows.filter(
    (row) => BigInt(row.seq) > after && (!input.status || effectiveStatus(row) === input.status),
  );
  const page = listed.slice(0, input.limit);
  const last = page.at(-1);
  return {
    eventId: input.eventId,
    counts,
    entries: {
      items: page.map((row) => ({
        userId: row.user_id,
        quantity: row.quantity,
        status: effectiveStatus(row),
        joinedAt: iso(row.joined_at),
        offeredAt: row.offered_at ? iso(row.offered_at) : null,
        offerExpiresAt: row.offer_expires_at ? iso(row.offer_expires_at) : null,
        bookingId: row.booking_id,
      })),
      nextCursor: listed.length > input.limit && last ? encodeCursor([String(last.seq)]) : null,
    },
  };
}
