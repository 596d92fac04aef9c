import {
  type AdminBookingPage,
  type Booking as BookingDto,
  type BookingPage,
  type BookingRefund,
  type CreateBookingInput,
  DomainError,
  EVENT_TICKET_LIMIT_MAX,
  IdempotencyKeySchema,
  type ListBookingsInput,
  type PaymentRecord,
  type PaymentStart,
  type ReconcileInput,
  type ReconcileReport,
  type Refund,
  type RefundBookingInput,
} from '@boxoffice/contracts';
import { Booking, type EntityManager } from '@boxoffice/db';
import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import { decodeCursor, encodeCursor } from '../../lib/cursor.ts';
import { withIdempotency } from '../../lib/idempotency.ts';
import type { AuthUser } from '../auth/tokens.ts';
import type { HoldQueue } from '../inventory/hold-queue.ts';
import { releaseHold, releaseLapsedHolds, type TakeRequest, takeTickets } from '../inventory/ledger.ts';
import { refusalError, type SaleReason } from '../inventory/sale-rule.ts';
import { toBookingDto } from './booking-dto.ts';

/**
 * How a hold gets paid for: implemented by payments and injected at the composition root, so
 * bookings never imports payments. A hold answers with `paymentLink` (a link of ours, no call to the
 * provider); the provider's order is created only when the buyer follows it, or by `startPayment`.
 */
export type PaymentPort = {
  /** Where the buyer goes to pay for a hold: following it creates the order and redirects to the provider. */
  paymentLink(booking: Booking): string;
  /**
   * The provider's order for a hold, created on the first call (within the buyer's limit of payment
   * orders, RATE_LIMITED past it) and the same order after that; PAYMENT_PROVIDER_ERROR when the
   * provider cannot be reached (the hold stays until it lapses).
   */
  startPayment(em: EntityManager, booking: Booking): Promise<{ orderId: string; approvalUrl: string }>;
};

/**
 * Money going back and money checked, for admins: implemented by payments and injected at the
 * composition root like the PaymentPort. `refund` refunds a CONFIRMED booking in full (and throws
 * BOOKING_NOT_REFUNDABLE / BOOKING_ALREADY_REFUNDED otherwise); the reads are what the admin list
 * shows of each booking's money.
 */
export type PaymentsAdminPort = {
  refund(
    em: EntityManager,
    bookingId: string,
    request: { reason: string; requestedBy: string },
  ): Promise<BookingRefund>;
  reconcile(em: EntityManager, input: ReconcileInput): Promise<ReconcileReport>;
  paymentRecords(em: EntityManager, bookingIds: string[]): Promise<Map<string, PaymentRecord[]>>;
  refunds(em: EntityManager, bookingIds: string[]): Promise<Map<string, Refund>>;
};

/** What became of a booking request, for the hold outcome counters. */
export type HoldOutcome = 'held' | 'confirmed' | SaleReason;

/** The long-lived part of the bookings service's dependencies, built once at the composition root. */
export type BookingsConfig = {
  clock: Clock;
  holdTtlMinutes: number;
  payments: PaymentPort | null;
  /** Refunds and reconciliation; null where payments are not wired (some tests). */
  paymentsAdmin?: PaymentsAdminPort | null;
  onHoldOutcome?: (outcome: HoldOutcome) => void;
  /**
   * Batches the holds for one event that arrive while a transaction for it is in flight
   * (HOLD_BATCHING); without it each hold is a transaction of its own.
   */
  holdQueue?: HoldQueue | null;
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
  const request: TakeRequest = {
    userId: actor.id,
    eventId,
    quantity,
    now,
    holdExpiresAt: new Date(now.getTime() + deps.holdTtlMinutes * 60_000),
  };
  const result = deps.holdQueue ? await deps.holdQueue.take(request) : await takeTickets(deps.em, request);
  if (!result.ok) {
    deps.onHoldOutcome?.(result.refusal.reason);
    throw refusalError(result.refusal);
  }
  deps.onHoldOutcome?.(result.booking.status === 'HELD' ? 'held' : 'confirmed');
  return result.booking;
}

/**
 * Books tickets for the buyer (the sale rule's checks, in order): a hold answers as soon as its
 * transaction commits, with the link where the buyer goes to pay (nothing is asked of PayPal
 * here); a free event's booking is confirmed at once. With an idempotency key, a retry returns the
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
    return toBookingDto(booking, paymentLinkOf(deps, booking));
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

/** Where the buyer pays for an open hold; nothing for any other booking. */
function paymentLinkOf(deps: Pick<BookingDeps, 'payments'>, booking: Booking): string | null {
  return booking.status === 'HELD' && deps.payments ? deps.payments.paymentLink(booking) : null;
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

/** A booking as its owner (or an admin) sees it; a hold that lapsed is released first. */
async function readBooking(deps: BookingDeps, actor: AuthUser, bookingId: string): Promise<Booking> {
  const booking = await findVisibleBooking(deps.em, actor, bookingId);
  if (booking.status === 'HELD' && booking.holdExpiresAt <= deps.clock.now()) {
    await releaseLapsedHolds(deps.em, { userId: booking.userId }, deps.clock.now());
    await deps.em.refresh(booking);
  }
  return booking;
}

export async function getBooking(deps: BookingDeps, actor: AuthUser, bookingId: string): Promise<BookingDto> {
  const booking = await readBooking(deps, actor, bookingId);
  return toBookingDto(booking, paymentLinkOf(deps, booking));
}

/**
 * The PayPal order of the buyer's open hold, for clients that send the buyer to PayPal themselves:
 * created on the first call, the same order after that (what following `paymentUrl` does, minus
 * the redirect).
 */
export async function startBookingPayment(
  deps: BookingDeps,
  actor: AuthUser,
  bookingId: string,
): Promise<PaymentStart> {
  const booking = await readBooking(deps, actor, bookingId);
  if (booking.userId !== actor.id)
    throw new DomainError('BOOKING_NOT_FOUND', 'No such booking', { field: 'bookingId' });
  if (booking.status !== 'HELD' || !deps.payments)
    throw new DomainError('BOOKING_NOT_PAYABLE', `Only held bookings can be paid for; this one is ${booking.status}`, {
      status: booking.status,
    });
  const started = await deps.payments.startPayment(deps.em, booking);
  return {
    bookingId: booking.id,
    paypalOrderId: started.orderId,
    approvalUrl: started.approvalUrl,
    holdExpiresAt: new Date(booking.holdExpiresAt).toISOString(),
  };
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
    items: page.map((booking) => toBookingDto(booking, paymentLinkOf(deps, booking))),
    nextCursor:
      rows.length > filter.limit && last ? encodeCursor([new Date(last.createdAt).toISOString(), last.id]) : null,
  };
}

async function releaseLapsedHoldsFor(deps: BookingDeps, filter: { userId?: string; eventId?: string }) {
  const now = deps.clock.now();
  if (filter.userId) await releaseLapsedHolds(deps.em, { userId: filter.userId }, now);
  else if (filter.eventId) await releaseLapsedHolds(deps.em, { eventId: filter.eventId }, now);
}

function paymentsAdminOf(deps: BookingDeps): PaymentsAdminPort {
  if (!deps.paymentsAdmin) throw new DomainError('NOT_READY', 'Payments are not configured');
  return deps.paymentsAdmin;
}

/** An admin refunds a confirmed booking in full, with a reason (anyone else is stopped before: 403). */
export async function refundBooking(
  deps: BookingDeps,
  actor: AuthUser,
  input: RefundBookingInput,
): Promise<BookingRefund> {
  return paymentsAdminOf(deps).refund(deps.em, input.bookingId, { reason: input.reason, requestedBy: actor.id });
}

/** Compares our bookings and payments with PayPal's orders and captures; `repair` settles what differs. */
export async function reconcileBookings(deps: BookingDeps, input: ReconcileInput): Promise<ReconcileReport> {
  return paymentsAdminOf(deps).reconcile(deps.em, input);
}

/** Every booking (any status, by event, buyer and status), each with its captures, refunds and refund request. */
export async function listAllBookings(deps: BookingDeps, filter: ListBookingsInput): Promise<AdminBookingPage> {
  const page = await listBookings(deps, filter);
  const ids = page.items.map((item) => item.id);
  const admin = deps.paymentsAdmin;
  const [payments, refunds] = admin
    ? await Promise.all([admin.paymentRecords(deps.em, ids), admin.refunds(deps.em, ids)])
    : [new Map<string, PaymentRecord[]>(), new Map<string, Refund>()];
  return {
    items: page.items.map((item) => ({
      ...item,
      payments: payments.get(item.id) ?? [],
      refund: refunds.get(item.id) ?? null,
    })),
    nextCursor: page.nextCursor,
  };
}
