import { randomUUID } from 'node:crypto';
import { DomainError } from '@boxoffice/contracts';
import { Booking, type EntityManager } from '@boxoffice/db';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../logger.ts';
import { lockBooking, releaseHold } from '../modules/bookings/holds.ts';
import {
  type PayPalCaptureView,
  type PayPalGateway,
  type PayPalOrderView,
  payPalFailureKind,
} from './paypal/gateway.ts';
import type { ReferenceSigner } from './paypal/reference.ts';

export type CheckoutDeps = {
  gateway: PayPalGateway;
  signer: ReferenceSigner;
  clock: Clock;
  log: Logger;
  /** Resolved per call: the public URL is known only once the server listens. */
  publicUrl: () => string;
};

export type SettleOutcome =
  | { kind: 'confirmed'; booking: Booking }
  | { kind: 'pending'; booking: Booking }
  | { kind: 'not_approved'; booking: Booking }
  | { kind: 'expired'; booking: Booking }
  | { kind: 'cancelled'; booking: Booking }
  | { kind: 'failed'; booking: Booking; reason: 'declined' | 'mismatch' | 'unknown_order' }
  | { kind: 'unavailable'; booking: Booking };

async function loadBooking(em: EntityManager, bookingId: string): Promise<Booking | null> {
  const rows = await em.execute('SELECT * FROM bookings WHERE id = ?', [bookingId]);
  return rows[0] ? em.map(Booking, rows[0] as Record<string, unknown>) : null;
}

/**
 * Creates the PayPal order for a fresh hold (amount and currency from the database) and returns
 * the approval URL. If PayPal cannot be reached, the hold is released and the caller gets 502.
 */
export async function startCheckout(deps: CheckoutDeps, em: EntityManager, booking: Booking): Promise<string> {
  const ref = encodeURIComponent(deps.signer.sign(booking.id));
  const base = deps.publicUrl();
  const [event] = await em.execute<{ title: string }[]>('SELECT title FROM events WHERE id = ?', [booking.eventId]);
  const title = event?.title ?? 'tickets';
  try {
    const order = await deps.gateway.createOrder({
      bookingId: booking.id,
      amountMinor: booking.totalMinor,
      currency: booking.currency.trim(),
      description: `${booking.quantity} × ${title}`.slice(0, 127),
      returnUrl: `${base}/payments/paypal/return?ref=${ref}`,
      cancelUrl: `${base}/payments/paypal/cancel?ref=${ref}`,
    });
    await em.execute('UPDATE bookings SET paypal_order_id = ?, payment_url = ?, updated_at = ? WHERE id = ?', [
      order.orderId,
      order.approveUrl,
      deps.clock.now(),
      booking.id,
    ]);
    return order.approveUrl;
  } catch (error) {
    deps.log.warn({ err: error, bookingId: booking.id }, 'creating the PayPal order failed; releasing the hold');
    await em.transactional((tx) => releaseHold(tx, booking.id, 'CANCELLED', deps.clock.now()));
    throw new DomainError('PAYMENT_PROVIDER_ERROR', 'The payment provider could not be reached; no tickets are held');
  }
}

/** Records money that moved; the unique provider reference makes a repeat a no-op. */
async function recordPayment(
  em: EntityManager,
  row: {
    bookingId: string;
    kind: 'capture' | 'refund';
    ref: string;
    status: string;
    amountMinor: number;
    currency: string;
  },
) {
  await em.execute(
    `INSERT INTO payments (id, booking_id, provider, kind, provider_ref, status, amount_minor, currency)
     VALUES (?, ?, 'paypal', ?, ?, ?, ?, ?) ON CONFLICT (provider, kind, provider_ref) DO NOTHING`,
    [randomUUID(), row.bookingId, row.kind, row.ref, row.status, row.amountMinor, row.currency],
  );
}

/**
 * Sells the booking's tickets: held → sold for a live hold, or available → sold for a hold that
 * lapsed while the buyer was paying (if tickets remain). Event row locked before the booking row.
 * Returns false when the tickets are gone or the booking moved on; nothing changes then.
 */
async function confirmBooking(em: EntityManager, booking: Booking, captureId: string, now: Date): Promise<boolean> {
  await em.execute('SELECT 1 FROM events WHERE id = ? FOR UPDATE', [booking.eventId]);
  const from = booking.status;
  if (from !== 'HELD' && from !== 'EXPIRED') return false;
  if (from === 'EXPIRED') {
    const reserved = await em.execute(
      `UPDATE events SET available = available - ?, sold = sold + ?, version = version + 1, updated_at = ?
       WHERE id = ? AND available >= ? AND status = 'published' RETURNING id`,
      [booking.quantity, booking.quantity, now, booking.eventId, booking.quantity],
    );
    if (reserved.length === 0) return false;
  }
  const confirmed = await em.execute(
    `UPDATE bookings SET status = 'CONFIRMED', paypal_capture_id = ?, confirmed_at = ?, updated_at = ?
     WHERE id = ? AND status = ? RETURNING id`,
    [captureId, now, now, booking.id, from],
  );
  if (confirmed.length === 0) throw new Error(`booking ${booking.id} left ${from} under its lock`);
  if (from === 'HELD')
    await em.execute(
      'UPDATE events SET held = held - ?, sold = sold + ?, version = version + 1, updated_at = ? WHERE id = ?',
      [booking.quantity, booking.quantity, now, booking.eventId],
    );
  return true;
}

async function ticketsLeft(em: EntityManager, booking: Booking, now: Date): Promise<boolean> {
  const rows = await em.execute<{ ok: boolean }[]>(
    "SELECT (available >= ? AND status = 'published' AND starts_at > ?) AS ok FROM events WHERE id = ?",
    [booking.quantity, now, booking.eventId],
  );
  return rows[0]?.ok === true;
}

/** Gives money back when we took it but cannot deliver tickets for it. */
async function refundUndeliverable(
  deps: CheckoutDeps,
  em: EntityManager,
  booking: Booking,
  capture: PayPalCaptureView,
) {
  try {
    const refund = await deps.gateway.refundCapture({
      captureId: capture.id,
      bookingId: booking.id,
      amountMinor: capture.amountMinor,
      currency: capture.currency,
    });
    await recordPayment(em, {
      bookingId: booking.id,
      kind: 'refund',
      ref: refund.refundId,
      status: refund.status,
      amountMinor: refund.amountMinor,
      currency: capture.currency,
    });
  } catch (error) {
    deps.log.error({ err: error, bookingId: booking.id, captureId: capture.id }, 'automatic refund failed');
  }
}

/**
 * The buyer came back from PayPal (or a webhook says they approved): capture on the server and
 * confirm only when PayPal says COMPLETED for exactly our amount, currency and booking. Runs under
 * a per-booking lock, so parallel visits capture once; a repeat finds the booking final.
 */
export async function settlePayment(deps: CheckoutDeps, em: EntityManager, bookingId: string): Promise<SettleOutcome> {
  return em.transactional(async (tx) => {
    await lockBooking(tx, bookingId);
    let booking = await loadBooking(tx, bookingId);
    if (!booking) throw new DomainError('BOOKING_NOT_FOUND', 'No such booking');
    if (booking.status === 'CONFIRMED') return { kind: 'confirmed', booking };
    if (booking.status === 'CANCELLED' || booking.status === 'REFUNDED' || !booking.paypalOrderId)
      return { kind: 'cancelled', booking };
    const now = deps.clock.now();
    if (booking.status === 'HELD' && booking.holdExpiresAt <= now) {
      await releaseHold(tx, booking.id, 'EXPIRED', now, { onlyIfLapsed: true });
      booking = (await loadBooking(tx, bookingId)) as Booking;
    }
    const orderId = booking.paypalOrderId as string;

    let order: PayPalOrderView;
    try {
      order = await deps.gateway.getOrder(orderId);
    } catch (error) {
      return payPalFailureKind(error) === 'not_found'
        ? { kind: 'failed', booking, reason: 'unknown_order' }
        : { kind: 'unavailable', booking };
    }
    // an order that is not for this booking is never captured or counted
    if (order.customId !== booking.id) return { kind: 'failed', booking, reason: 'mismatch' };

    let capture = order.captures[0];
    if (!capture) {
      if (order.status !== 'APPROVED') return { kind: 'not_approved', booking };
      // approved after the hold lapsed: capture only if tickets remain, so no money moves otherwise
      if (booking.status === 'EXPIRED' && !(await ticketsLeft(tx, booking, now))) return { kind: 'expired', booking };
      try {
        order = await deps.gateway.captureOrder({ orderId, bookingId: booking.id });
      } catch (error) {
        const kind = payPalFailureKind(error);
        if (kind === 'already_captured') order = await deps.gateway.getOrder(orderId);
        else if (kind === 'declined' || kind === 'not_approved') return { kind: 'not_approved', booking };
        else return { kind: 'unavailable', booking };
      }
      capture = order.captures[0];
      if (!capture) return { kind: 'unavailable', booking };
    }

    if (capture.status === 'PENDING') return { kind: 'pending', booking };
    if (capture.status !== 'COMPLETED') {
      if (booking.status === 'HELD') await releaseHold(tx, booking.id, 'CANCELLED', now);
      return { kind: 'failed', booking: (await loadBooking(tx, bookingId)) as Booking, reason: 'declined' };
    }
    await recordPayment(tx, {
      bookingId: booking.id,
      kind: 'capture',
      ref: capture.id,
      status: capture.status,
      amountMinor: capture.amountMinor,
      currency: capture.currency,
    });
    const matches =
      order.status === 'COMPLETED' &&
      capture.amountMinor === booking.totalMinor &&
      capture.currency === booking.currency.trim() &&
      capture.customId === booking.id;
    if (!matches) {
      deps.log.error({ bookingId: booking.id, orderId, captureId: capture.id }, 'capture does not match the booking');
      await refundUndeliverable(deps, tx, booking, capture);
      return { kind: 'failed', booking, reason: 'mismatch' };
    }
    if (!(await confirmBooking(tx, booking, capture.id, now))) {
      await refundUndeliverable(deps, tx, booking, capture);
      return { kind: booking.status === 'EXPIRED' ? 'expired' : 'cancelled', booking };
    }
    return { kind: 'confirmed', booking: (await loadBooking(tx, bookingId)) as Booking };
  });
}

/** The buyer cancelled at PayPal: release that hold once; after a capture nothing changes. */
export async function cancelCheckout(
  deps: CheckoutDeps,
  em: EntityManager,
  bookingId: string,
): Promise<{ booking: Booking; released: boolean }> {
  return em.transactional(async (tx) => {
    await lockBooking(tx, bookingId);
    const released = await releaseHold(tx, bookingId, 'CANCELLED', deps.clock.now());
    const booking = await loadBooking(tx, bookingId);
    if (!booking) throw new DomainError('BOOKING_NOT_FOUND', 'No such booking');
    return { booking, released };
  });
}

/** Finds the booking a PayPal redirect is about: the order id and our signed reference must agree. */
export async function bookingForRedirect(
  deps: CheckoutDeps,
  em: EntityManager,
  query: { token?: string; ref?: string },
): Promise<string> {
  const bookingId = deps.signer.verify(query.ref);
  if (!bookingId || !query.token)
    throw new DomainError('VALIDATION_FAILED', 'This payment link is incomplete or was altered', {
      issues: [{ path: bookingId ? 'token' : 'ref', message: 'missing or invalid', code: 'invalid' }],
    });
  const rows = await em.execute<{ id: string }[]>('SELECT id FROM bookings WHERE paypal_order_id = ?', [query.token]);
  if (rows[0]?.id !== bookingId) throw new DomainError('BOOKING_NOT_FOUND', 'No booking matches this payment');
  return bookingId;
}
