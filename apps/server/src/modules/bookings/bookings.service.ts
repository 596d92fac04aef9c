import {
  type Booking as BookingDto,
  type BookingPage,
  type CreateBookingInput,
  DomainError,
  IdempotencyKeySchema,
  type ListBookingsInput,
} from '@boxoffice/contracts';
import { Booking, type EntityManager } from '@boxoffice/db';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import { decodeCursor, encodeCursor } from '../../lib/cursor.ts';
import { withIdempotency } from '../../lib/idempotency.ts';
import type { AuthUser } from '../auth/tokens.ts';
import { placeHold, readEventTerms, releaseHold, releaseLapsedHolds, ticketsOwned } from './holds.ts';

export type BookingDeps = {
  em: EntityManager;
  clock: Clock;
  holdTtlMinutes: number;
};

export function toBookingDto(booking: Booking): BookingDto {
  const iso = (date: Date | null | undefined) => (date ? new Date(date).toISOString() : null);
  return {
    id: booking.id,
    eventId: booking.eventId,
    userId: booking.userId,
    quantity: booking.quantity,
    unitPriceMinor: booking.unitPriceMinor,
    totalMinor: booking.totalMinor,
    currency: booking.currency.trim(),
    status: booking.status,
    holdExpiresAt: new Date(booking.holdExpiresAt).toISOString(),
    createdAt: new Date(booking.createdAt).toISOString(),
    confirmedAt: iso(booking.confirmedAt),
    cancelledAt: iso(booking.cancelledAt),
    expiredAt: iso(booking.expiredAt),
    refundedAt: iso(booking.refundedAt),
    paymentUrl: booking.status === 'HELD' ? (booking.paymentUrl ?? null) : null,
  };
}

const MAX_QUANTITY = 1000;

/** Rule 1: a whole number of tickets, at least one. */
function checkQuantity(quantity: number): void {
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY)
    throw new DomainError('INVALID_QUANTITY', 'Quantity must be a whole number of at least 1', {
      field: 'quantity',
      min: 1,
    });
}

/** Works out which booking rule an event fails, in the order DESIGN.md gives them. */
async function explainRefusal(em: EntityManager, userId: string, eventId: string, quantity: number, now: Date) {
  const event = await readEventTerms(em, eventId);
  if (!event) return new DomainError('EVENT_NOT_FOUND', 'No such event', { field: 'eventId' });
  if (event.status !== 'published')
    return new DomainError('EVENT_NOT_ON_SALE', `Tickets for this event are not on sale (${event.status})`);
  if (new Date(event.startsAt) <= now) return new DomainError('EVENT_PAST', 'This event has already started');
  if (quantity > event.maxPerOrder)
    return new DomainError('LIMIT_EXCEEDED', `At most ${event.maxPerOrder} tickets per order`, {
      limit: 'per_order',
      max: event.maxPerOrder,
    });
  const open = await em.execute("SELECT 1 FROM bookings WHERE user_id = ? AND status = 'HELD'", [userId]);
  if (open.length > 0)
    return new DomainError('HOLD_ALREADY_OPEN', 'You already have tickets on hold: pay for or cancel them first');
  if (quantity > event.available)
    return new DomainError('SOLD_OUT', event.available === 0 ? 'Sold out' : `Only ${event.available} left`, {
      available: event.available,
    });
  const owned = await ticketsOwned(em, userId, eventId);
  if (owned + quantity > event.maxPerUser)
    return new DomainError('LIMIT_EXCEEDED', `At most ${event.maxPerUser} tickets per person for this event`, {
      limit: 'per_user',
      max: event.maxPerUser,
      owned,
    });
  return null;
}

async function holdTickets(deps: BookingDeps, actor: AuthUser, eventId: string, quantity: number): Promise<Booking> {
  const now = deps.clock.now();
  const holdExpiresAt = new Date(now.getTime() + deps.holdTtlMinutes * 60_000);
  // the buyer's own lapsed hold must not count as their one open hold
  await releaseLapsedHolds(deps.em, { userId: actor.id }, now);

  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const booking = await deps.em.transactional((tx) =>
        placeHold(tx, { userId: actor.id, eventId, quantity, now, holdExpiresAt }),
      );
      if (booking) return booking;
    } catch (error) {
      // the partial unique index allows one HELD booking per user, whatever raced
      if (error instanceof UniqueConstraintViolationException)
        throw new DomainError('HOLD_ALREADY_OPEN', 'You already have tickets on hold: pay for or cancel them first');
      // over the per-user limit (rolled back): an earlier rule, such as an open hold, may explain it first
      if (error instanceof DomainError && error.code === 'LIMIT_EXCEEDED')
        throw (await explainRefusal(deps.em, actor.id, eventId, quantity, now)) ?? error;
      throw error;
    }
    // the conditional update refused: find out which rule failed, first in DESIGN.md's order
    const refusal = await explainRefusal(deps.em, actor.id, eventId, quantity, now);
    if (refusal?.code === 'SOLD_OUT' && attempt === 0) {
      // sold out only because of holds that already lapsed? release them and try once more
      if ((await releaseLapsedHolds(deps.em, { eventId }, now)) > 0) continue;
    }
    if (refusal) throw refusal;
  }
  throw new DomainError('SOLD_OUT', 'Sold out', { available: 0 });
}

/** Starts the payment for a fresh hold and returns where the buyer approves it. */
export type PaymentStarter = (booking: Booking) => Promise<string>;

/**
 * Holds tickets for the buyer (DESIGN.md's booking rules, in order) and starts the payment.
 * With an idempotency key, a retry returns the first response instead of a second booking.
 */
export async function createBooking(
  deps: BookingDeps & { startPayment?: PaymentStarter },
  actor: AuthUser,
  input: CreateBookingInput,
  headerKey: string | null,
): Promise<BookingDto> {
  const quantity = input.quantity ?? 1;
  checkQuantity(quantity);
  const run = async () => {
    const booking = await holdTickets(deps, actor, input.eventId, quantity);
    if (deps.startPayment) booking.paymentUrl = await deps.startPayment(booking);
    return toBookingDto(booking);
  };
  const key = input.idempotencyKey ?? (headerKey === null ? undefined : checkHeaderKey(headerKey));
  if (!key) return run();
  return withIdempotency(
    deps.em,
    {
      userId: actor.id,
      scope: 'bookings.create',
      key,
      request: { eventId: input.eventId, quantity },
      now: deps.clock.now(),
    },
    run,
  );
}

/** The Idempotency-Key header obeys the same rules as the input field. */
function checkHeaderKey(value: string): string {
  const parsed = IdempotencyKeySchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new DomainError('VALIDATION_FAILED', 'Invalid Idempotency-Key header', {
    issues: parsed.error.issues.map((issue) => ({ path: 'Idempotency-Key', message: issue.message, code: issue.code })),
  });
}

/** Owners and admins see a booking; anyone else gets 404, as if it did not exist. */
async function findVisibleBooking(em: EntityManager, actor: AuthUser, bookingId: string): Promise<Booking> {
  const booking = await em.findOne(Booking, { id: bookingId });
  if (!booking || (booking.userId !== actor.id && actor.role !== 'admin'))
    throw new DomainError('BOOKING_NOT_FOUND', 'No such booking', { field: 'bookingId' });
  return booking;
}

export async function getBooking(deps: BookingDeps, actor: AuthUser, bookingId: string): Promise<BookingDto> {
  const booking = await findVisibleBooking(deps.em, actor, bookingId);
  if (booking.status === 'HELD' && booking.holdExpiresAt <= deps.clock.now()) {
    await releaseLapsedHolds(deps.em, { userId: booking.userId }, deps.clock.now());
    await deps.em.refresh(booking);
  }
  return toBookingDto(booking);
}

/** The owner gives up a HELD booking; its tickets go back on sale. */
export async function cancelBooking(deps: BookingDeps, actor: AuthUser, bookingId: string): Promise<BookingDto> {
  const booking = await findVisibleBooking(deps.em, actor, bookingId);
  if (booking.userId !== actor.id)
    throw new DomainError('BOOKING_NOT_FOUND', 'No such booking', { field: 'bookingId' });
  const now = deps.clock.now();
  await releaseLapsedHolds(deps.em, { userId: actor.id }, now);
  const released = await deps.em.transactional((tx) => releaseHold(tx, bookingId, 'CANCELLED', now));
  await deps.em.refresh(booking);
  if (!released)
    throw new DomainError(
      'BOOKING_NOT_CANCELLABLE',
      `Only held bookings can be cancelled; this one is ${booking.status}`,
      {
        status: booking.status,
      },
    );
  return toBookingDto(booking);
}

const BookingCursorSchema = z.tuple([z.iso.datetime(), z.uuid()]);

/** Newest first, keyset-paged on (created_at, id). */
export async function listBookings(
  deps: BookingDeps,
  filter: ListBookingsInput & { userId?: string },
): Promise<BookingPage> {
  await releaseLapsedHoldsFor(deps, filter);
  const where: Record<string, unknown> = {};
  if (filter.userId) where.userId = filter.userId;
  if (filter.eventId) where.eventId = filter.eventId;
  if (filter.status) where.status = filter.status;
  if (filter.cursor) {
    const [createdAt, id] = decodeCursor(filter.cursor, BookingCursorSchema);
    where.$or = [{ createdAt: { $lt: new Date(createdAt) } }, { createdAt: new Date(createdAt), id: { $lt: id } }];
  }
  const rows = await deps.em.find(Booking, where, {
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    limit: filter.limit + 1,
  });
  const page = rows.slice(0, filter.limit);
  const last = page.at(-1);
  return {
    items: page.map((booking) => toBookingDto(booking)),
    nextCursor:
      rows.length > filter.limit && last ? encodeCursor([new Date(last.createdAt).toISOString(), last.id]) : null,
  };
}

async function releaseLapsedHoldsFor(deps: BookingDeps, filter: { userId?: string; eventId?: string }) {
  const now = deps.clock.now();
  if (filter.userId) await releaseLapsedHolds(deps.em, { userId: filter.userId }, now);
  else if (filter.eventId) await releaseLapsedHolds(deps.em, { eventId: filter.eventId }, now);
}
