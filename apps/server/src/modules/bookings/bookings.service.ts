import {
  type Booking as BookingDto,
  type BookingPage,
  type CreateBookingInput,
  DomainError,
  EVENT_TICKET_LIMIT_MAX,
  IdempotencyKeySchema,
  type ListBookingsInput,
} from '@boxoffice/contracts';
import { Booking, type EntityManager } from '@boxoffice/db';
import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import { decodeCursor, encodeCursor } from '../../lib/cursor.ts';
import { withIdempotency } from '../../lib/idempotency.ts';
import type { AuthUser } from '../auth/tokens.ts';
import { releaseHold, releaseLapsedHolds, takeTickets } from '../inventory/ledger.ts';
import { refusalError, type SaleReason } from '../inventory/sale-rule.ts';
import { toBookingDto } from './booking-dto.ts';

/**
 * How a fresh hold gets paid for: implemented by payments and injected at the composition root, so
 * bookings never imports payments. Returns where the buyer approves the payment; throws a
 * DomainError (and releases the hold) when the payment cannot be started.
 */
export type PaymentPort = {
  startPayment(em: EntityManager, booking: Booking): Promise<string>;
};

/** What became of a booking request, for the hold outcome counters. */
export type HoldOutcome = 'held' | 'confirmed' | SaleReason;

/** The long-lived part of the bookings service's dependencies, built once at the composition root. */
export type BookingsConfig = {
  clock: Clock;
  holdTtlMinutes: number;
  payments: PaymentPort | null;
  onHoldOutcome?: (outcome: HoldOutcome) => void;
  /**
   * Counts one payment started for the buyer and throws RATE_LIMITED past their limit, so holding
   * and cancelling in a loop cannot create payment orders without end.
   */
  countPaymentStart?: (userId: string) => Promise<void>;
};

export type BookingDeps = BookingsConfig & { em: EntityManager };

/** Rule 1: a whole number of tickets, at least one (and never more than any event's per-order limit). */
function checkQuantity(quantity: number): void {
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > EVENT_TICKET_LIMIT_MAX)
    throw new DomainError('INVALID_QUANTITY', 'Quantity must be a whole number of at least 1', {
      field: 'quantity',
      min: 1,
    });
}

/** Takes the tickets through the ledger: a hold for a paid event, a confirmed booking for a free one. */
async function takeTicketsFor(deps: BookingDeps, actor: AuthUser, eventId: string, quantity: number) {
  const now = deps.clock.now();
  const result = await takeTickets(deps.em, {
    userId: actor.id,
    eventId,
    quantity,
    now,
    holdExpiresAt: new Date(now.getTime() + deps.holdTtlMinutes * 60_000),
  });
  if (!result.ok) {
    deps.onHoldOutcome?.(result.refusal.reason);
    throw refusalError(result.refusal);
  }
  deps.onHoldOutcome?.(result.booking.status === 'HELD' ? 'held' : 'confirmed');
  return result.booking;
}

/**
 * Books tickets for the buyer (the sale rule's checks, in order) and starts the payment for a
 * hold; a free event's booking is confirmed at once. With an idempotency key, a retry returns the
 * first response instead of a second booking.
 */
export async function createBooking(
  deps: BookingDeps,
  actor: AuthUser,
  input: CreateBookingInput,
  headerKey: string | null,
): Promise<BookingDto> {
  const quantity = input.quantity ?? 1;
  checkQuantity(quantity);
  const run = async () => {
    const booking = await takeTicketsFor(deps, actor, input.eventId, quantity);
    if (booking.status === 'HELD') await attachPayment(deps, booking);
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

/** Starts the payment of a hold (within the buyer's limit; over it, the hold is released). */
async function attachPayment(deps: BookingDeps, booking: Booking): Promise<void> {
  if (!deps.payments) return;
  try {
    await deps.countPaymentStart?.(booking.userId);
  } catch (error) {
    await releaseHold(deps.em, booking.id, 'CANCELLED', deps.clock.now());
    throw error;
  }
  booking.paymentUrl = await deps.payments.startPayment(deps.em, booking);
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
  // a hold whose payment was never started (its request died after the hold committed) gets its
  // link now; the payment's request id makes this the same order if the first attempt got through
  if (booking.status === 'HELD' && !booking.paypalOrderId && deps.payments && booking.userId === actor.id)
    booking.paymentUrl = await deps.payments.startPayment(deps.em, booking);
  return toBookingDto(booking);
}

/** The owner gives up a HELD booking; its tickets go back on sale. */
export async function cancelBooking(deps: BookingDeps, actor: AuthUser, bookingId: string): Promise<BookingDto> {
  const booking = await findVisibleBooking(deps.em, actor, bookingId);
  if (booking.userId !== actor.id)
    throw new DomainError('BOOKING_NOT_FOUND', 'No such booking', { field: 'bookingId' });
  const now = deps.clock.now();
  await releaseLapsedHolds(deps.em, { userId: actor.id }, now);
  const released = await releaseHold(deps.em, bookingId, 'CANCELLED', now);
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
