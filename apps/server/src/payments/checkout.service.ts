import { randomUUID } from 'node:crypto';
import { DomainError } from '@boxoffice/contracts';
import { Booking, type EntityManager } from '@boxoffice/db';
import { enqueueJob } from '../jobs/job-queue.ts';
import { RECONCILE_PAYMENT_QUEUE } from '../jobs/queues.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../logger.ts';
import { canRevive, confirmSale, releaseHold } from '../modules/inventory/ledger.ts';
import {
  type PayPalCaptureView,
  PayPalError,
  type PayPalGateway,
  type PayPalOrderView,
  payPalFailureKind,
} from './paypal/gateway.ts';

import type { ReferenceSigner } from './paypal/reference.ts';

/** PayPal's word that the buyer may not retry this order with another funding source. */
const NO_MORE_ATTEMPTS = 'MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED';

export type CheckoutDeps = {
  gateway: PayPalGateway;
  signer: ReferenceSigner;
  clock: Clock;
  log: Logger;
  /** Resolved per call: the public URL is known only once the server listens. */
  publicUrl: () => string;
  /** Settlements running in this process, so parallel visits for one booking share one run. */
  settling: Map<string, Promise<SettleOutcome>>;
  /** Told when money on our books cannot be found at PayPal (a metric to alert on). */
  onAlert?: (kind: 'order_missing') => void;
  /**
   * Counts one PayPal order created for the buyer and throws RATE_LIMITED past their limit, so
   * holding and cancelling in a loop cannot create payment orders without end.
   */
  countPaymentStart?: (userId: string) => Promise<void>;
};

/** What became of money PayPal took for a booking that got no tickets. */
export type RefundState = 'none' | 'done' | 'scheduled';

export type SettleOutcome =
  | { kind: 'confirmed'; booking: Booking }
  | { kind: 'pending'; booking: Booking }
  | { kind: 'processing'; booking: Booking }
  | { kind: 'not_approved'; booking: Booking }
  | { kind: 'expired'; booking: Booking; refund: RefundState }
  | { kind: 'cancelled'; booking: Booking; refund: RefundState }
  | { kind: 'failed'; booking: Booking; reason: 'declined' | 'mismatch' | 'unknown_order'; refund: RefundState }
  | { kind: 'unavailable'; booking: Booking };

async function loadBooking(em: EntityManager, bookingId: string): Promise<Booking | null> {
  const rows = await em.execute('SELECT * FROM bookings WHERE id = ?', [bookingId]);
  return rows[0] ? em.map(Booking, rows[0] as Record<string, unknown>) : null;
}

/**
 * Where the buyer of a hold goes to pay: our start route with the signed booking reference (no
 * call to PayPal until the buyer follows it).
 */
export function paymentStartUrl(deps: CheckoutDeps, bookingId: string): string {
  return `${deps.publicUrl()}/payments/paypal/start?ref=${encodeURIComponent(deps.signer.sign(bookingId))}`;
}

export type CheckoutStart = { orderId: string; approvalUrl: string };

/**
 * The PayPal order of a hold, created when its buyer goes to pay (amount and currency from the
 * database) and returned as it is after that. Creating one counts against the buyer's limit of
 * payment orders; `PayPal-Request-Id: create:<booking>` makes a retried or concurrent create the
 * same order. If PayPal cannot be reached the caller gets 502 and the hold stays until it lapses,
 * so the buyer can try again. `booking` is as just read from the database.
 */
export async function startCheckout(deps: CheckoutDeps, em: EntityManager, booking: Booking): Promise<CheckoutStart> {
  if (booking.paypalOrderId && booking.paymentUrl)
    return { orderId: booking.paypalOrderId, approvalUrl: booking.paymentUrl };
  await deps.countPaymentStart?.(booking.userId);
  const ref = encodeURIComponent(deps.signer.sign(booking.id));
  const base = deps.publicUrl();
  const [event] = await em.execute<{ title: string }[]>('SELECT title FROM events WHERE id = ?', [booking.eventId]);
  const title = event?.title ?? 'tickets';
  let order: { orderId: string; approveUrl: string };
  try {
    order = await deps.gateway.createOrder({
      bookingId: booking.id,
      amountMinor: booking.totalMinor,
      currency: booking.currency.trim(),
      description: `${booking.quantity} × ${title}`.slice(0, 127),
      returnUrl: `${base}/payments/paypal/return?ref=${ref}`,
      cancelUrl: `${base}/payments/paypal/cancel?ref=${ref}`,
    });
  } catch (error) {
    deps.log.warn({ err: error, bookingId: booking.id }, 'creating the PayPal order failed; the hold stays');
    throw new DomainError(
      'PAYMENT_PROVIDER_ERROR',
      'The payment provider could not be reached; your tickets stay held, try again in a moment',
    );
  }
  await em.execute('UPDATE bookings SET paypal_order_id = ?, payment_url = ?, updated_at = ? WHERE id = ?', [
    order.orderId,
    order.approveUrl,
    deps.clock.now(),
    booking.id,
  ]);
  return { orderId: order.orderId, approvalUrl: order.approveUrl };
}

/** Where following a payment link leads: PayPal for an open hold, otherwise the booking as it is. */
export type CheckoutOpening = { kind: 'approve'; approvalUrl: string } | { kind: 'closed'; booking: Booking };

/**
 * The buyer followed a hold's payment link (`paymentStartUrl`): an open hold goes on to PayPal, its
 * order created now if it has none; a hold that lapsed is released first; any other booking is
 * shown as it is, since there is nothing left to pay.
 */
export async function openCheckout(deps: CheckoutDeps, em: EntityManager, ref?: string): Promise<CheckoutOpening> {
  const bookingId = deps.signer.verify(ref);
  if (!bookingId)
    throw new DomainError('VALIDATION_FAILED', 'This payment link is incomplete or was altered', {
      issues: [{ path: 'ref', message: 'missing or invalid', code: 'invalid' }],
    });
  let booking = await loadBooking(em, bookingId);
  if (!booking) throw new DomainError('BOOKING_NOT_FOUND', 'No booking matches this payment link');
  const now = deps.clock.now();
  if (booking.status === 'HELD' && booking.holdExpiresAt <= now) {
    await releaseHold(em, bookingId, 'EXPIRED', now, { onlyIfLapsed: true });
    booking = (await loadBooking(em, bookingId)) as Booking;
  }
  if (booking.status !== 'HELD') return { kind: 'closed', booking };
  return { kind: 'approve', approvalUrl: (await startCheckout(deps, em, booking)).approvalUrl };
}

/** Records money that moved; a repeat changes nothing, except a PENDING entry learning its outcome. */
export async function recordPayment(
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
     VALUES (?, ?, 'paypal', ?, ?, ?, ?, ?)
     ON CONFLICT (provider, kind, provider_ref) DO UPDATE SET status = EXCLUDED.status WHERE payments.status = 'PENDING'`,
    [randomUUID(), row.bookingId, row.kind, row.ref, row.status, row.amountMinor, row.currency],
  );
}

/** Completed captures minus completed refunds on our books for a booking, in minor units. */
export async function moneyNotGivenBack(em: EntityManager, bookingId: string): Promise<number> {
  const [row] = await em.execute<{ owed: number }[]>(
    `SELECT (coalesce(sum(amount_minor) FILTER (WHERE kind = 'capture'), 0)
           - coalesce(sum(amount_minor) FILTER (WHERE kind = 'refund'), 0))::int AS owed
       FROM payments WHERE booking_id = ? AND status = 'COMPLETED'`,
    [bookingId],
  );
  return row?.owed ?? 0;
}

/**
 * The PayPal-Request-Id of the booking's next refund attempt: `refund:<booking>`, so repeats are one
 * refund, until PayPal fails one outright (FAILED is final for that id, and a repeat would only
 * replay it); each failure on our books moves on to `refund:<booking>:<n>`.
 */
export async function refundRequestId(em: EntityManager, bookingId: string): Promise<string> {
  const [row] = await em.execute<{ failed: number }[]>(
    "SELECT count(*)::int AS failed FROM payments WHERE booking_id = ? AND kind = 'refund' AND status = 'FAILED'",
    [bookingId],
  );
  const failed = row?.failed ?? 0;
  return failed === 0 ? `refund:${bookingId}` : `refund:${bookingId}:${failed + 1}`;
}

/** Refunds the whole capture (PayPal-Request-Id from `refundRequestId`) and records it, whatever its status. */
export async function refundAndRecord(
  deps: CheckoutDeps,
  em: EntityManager,
  booking: Pick<Booking, 'id'>,
  capture: PayPalCaptureView,
) {
  const refund = await deps.gateway.refundCapture({
    captureId: capture.id,
    bookingId: booking.id,
    amountMinor: capture.amountMinor,
    currency: capture.currency,
    requestId: await refundRequestId(em, booking.id),
  });
  await recordPayment(em, {
    bookingId: booking.id,
    kind: 'refund',
    ref: refund.refundId,
    status: refund.status,
    amountMinor: refund.amountMinor,
    currency: capture.currency,
  });
  return refund;
}

/** Looks at the booking again later (a pending capture, a refund to retry, a capture in flight). */
async function reconcileLater(deps: CheckoutDeps, em: EntityManager, bookingId: string, delayMs: number) {
  await enqueueJob(em, {
    queue: RECONCILE_PAYMENT_QUEUE,
    payload: { bookingId },
    runAt: new Date(deps.clock.now().getTime() + delayMs),
    dedupeKey: bookingId,
  });
}

const RETRY_LATER_MS = 60_000;
/** Longer than a capture can take with timeouts and retries, so a late capture is still found. */
const CAPTURE_WATCH_MS = 5 * 60_000;

/**
 * Gives money back when we took it but deliver no tickets for it. PayPal-Request-Id
 * `refund:<booking>` makes a repeat (another visit, the retry job) one refund at PayPal. Anything
 * short of a completed refund is looked at again later.
 */
async function refundUndeliverable(
  deps: CheckoutDeps,
  em: EntityManager,
  booking: Booking,
  capture: PayPalCaptureView,
): Promise<RefundState> {
  try {
    const refund = await refundAndRecord(deps, em, booking, capture);
    if (refund.status === 'COMPLETED') return 'done';
    deps.log.warn(
      { bookingId: booking.id, refundId: refund.refundId, status: refund.status },
      'refund not completed yet',
    );
  } catch (error) {
    deps.log.error({ err: error, bookingId: booking.id, captureId: capture.id }, 'refund failed; will retry');
  }
  await reconcileLater(deps, em, booking.id, RETRY_LATER_MS);
  return 'scheduled';
}

/**
 * PayPal refunded a capture but our ledger has no refund row (the refund's answer was lost). The
 * same PayPal-Request-Id replays the original refund's answer, which names it; best effort, as
 * PayPal forgets request ids after some hours.
 */
async function recordLostRefund(deps: CheckoutDeps, em: EntityManager, booking: Booking, capture: PayPalCaptureView) {
  const known = await em.execute("SELECT 1 FROM payments WHERE booking_id = ? AND kind = 'refund'", [booking.id]);
  if (known.length > 0) return;
  try {
    await refundAndRecord(deps, em, booking, capture);
  } catch (error) {
    deps.log.warn(
      { err: error, bookingId: booking.id, captureId: capture.id },
      'refund done at PayPal but not on record',
    );
  }
}

/**
 * `buyer_returned`: the buyer came back from PayPal (or PayPal says they approved), so an approved
 * order may be captured. `after_release`: the hold was cancelled or expired; only money already
 * taken is dealt with, nothing new is captured.
 */
export type SettleMode = 'buyer_returned' | 'after_release';

/**
 * Makes the booking agree with its PayPal order: capture on the server, confirm only when PayPal
 * says COMPLETED for exactly our amount, currency and booking, and refund money we cannot turn
 * into tickets. No database transaction stays open across a call to PayPal; concurrent callers in
 * this process share one run, and PayPal-Request-Id makes callers in other processes one capture.
 */
export function settlePayment(
  deps: CheckoutDeps,
  em: EntityManager,
  bookingId: string,
  mode: SettleMode = 'buyer_returned',
): Promise<SettleOutcome> {
  const key = bookingId;
  const running = deps.settling.get(key);
  if (running) return running;
  const run = reconcile(deps, em, bookingId, mode).finally(() => deps.settling.delete(key));
  deps.settling.set(key, run);
  return run;
}

async function reconcile(
  deps: CheckoutDeps,
  em: EntityManager,
  bookingId: string,
  mode: SettleMode,
): Promise<SettleOutcome> {
  const reload = async () => (await loadBooking(em, bookingId)) as Booking;
  let booking = await loadBooking(em, bookingId);
  if (!booking) throw new DomainError('BOOKING_NOT_FOUND', 'No such booking');
  if (booking.status === 'CONFIRMED') return { kind: 'confirmed', booking };
  const orderId = booking.paypalOrderId;
  if (!orderId) return { kind: 'cancelled', booking, refund: 'none' };
  const now = deps.clock.now();
  if (booking.status === 'HELD' && booking.holdExpiresAt <= now) {
    await releaseHold(em, bookingId, 'EXPIRED', now, { onlyIfLapsed: true });
    booking = await reload();
  }
  const closed = (refund: RefundState): SettleOutcome =>
    booking?.status === 'EXPIRED'
      ? { kind: 'expired', booking, refund }
      : { kind: 'cancelled', booking: booking as Booking, refund };

  let order: PayPalOrderView;
  try {
    order = await deps.gateway.getOrder(orderId);
  } catch (error) {
    if (payPalFailureKind(error) !== 'not_found') return { kind: 'unavailable', booking };
    // our ledger outranks a missing order: money we recorded as taken is followed until it is back
    const owedMinor = await moneyNotGivenBack(em, bookingId);
    if (owedMinor === 0) return { kind: 'failed', booking, reason: 'unknown_order', refund: 'none' };
    deps.log.error(
      { bookingId, orderId, owedMinor, status: booking.status },
      'PayPal has no such order, but our payments ledger records money taken for this booking and not given back',
    );
    deps.onAlert?.('order_missing');
    return { kind: 'unavailable', booking };
  }
  // an order that is not for this booking is never captured, refunded or counted
  if (order.customId !== booking.id) return { kind: 'failed', booking, reason: 'mismatch', refund: 'none' };

  let capture = order.captures[0];
  if (!capture) {
    if (order.status !== 'APPROVED')
      return booking.status === 'HELD' ? { kind: 'not_approved', booking } : closed('none');
    if (mode === 'after_release' || (booking.status !== 'HELD' && booking.status !== 'EXPIRED')) return closed('none');
    // approved after the hold lapsed: capture only if the tickets can still be had, so no money moves otherwise
    if (booking.status === 'EXPIRED' && !(await canRevive(em, booking, now))) return closed('none');
    // written before the capture: if its answer is lost and the booking moves on, a job still finds the money
    await reconcileLater(deps, em, bookingId, CAPTURE_WATCH_MS);
    try {
      order = await deps.gateway.captureOrder({ orderId, bookingId });
    } catch (error) {
      const kind = payPalFailureKind(error);
      if (kind === 'already_captured') order = await deps.gateway.getOrder(orderId).catch(() => order);
      else if (kind === 'declined' && error instanceof PayPalError && error.issue === NO_MORE_ATTEMPTS) {
        await releaseHold(em, bookingId, 'CANCELLED', now);
        return { kind: 'failed', booking: await reload(), reason: 'declined', refund: 'none' };
      } else if (kind === 'declined' || kind === 'not_approved') return { kind: 'not_approved', booking };
      else return { kind: 'unavailable', booking };
    }
    capture = order.captures[0];
    if (!capture) return { kind: 'unavailable', booking };
  }

  const money = {
    bookingId,
    kind: 'capture' as const,
    ref: capture.id,
    status: capture.status,
    amountMinor: capture.amountMinor,
    currency: capture.currency,
  };
  if (capture.status === 'PENDING') {
    // PayPal is still reviewing it: come back until it completes or is declined
    await recordPayment(em, money);
    await reconcileLater(deps, em, bookingId, CAPTURE_WATCH_MS);
    return { kind: 'pending', booking };
  }
  if (capture.status === 'REFUNDED' || capture.status === 'PARTIALLY_REFUNDED') {
    await recordPayment(em, money);
    await recordLostRefund(deps, em, booking, capture);
    if (booking.status === 'HELD') {
      await releaseHold(em, bookingId, 'CANCELLED', now);
      booking = await reload();
    }
    return closed('done');
  }
  if (capture.status !== 'COMPLETED') {
    // declined or failed at PayPal: no money moved, and PayPal will not try again (a PENDING entry
    // on our books learns that outcome)
    await recordPayment(em, money);
    await releaseHold(em, bookingId, 'CANCELLED', now);
    return { kind: 'failed', booking: await reload(), reason: 'declined', refund: 'none' };
  }

  // money is in: from here on a failure must not lose track of it (the watch job finishes the work)
  try {
    await recordPayment(em, money);
    const matches =
      order.status === 'COMPLETED' &&
      capture.amountMinor === booking.totalMinor &&
      capture.currency === booking.currency.trim() &&
      capture.customId === booking.id;
    if (!matches) {
      deps.log.error({ bookingId, orderId, captureId: capture.id }, 'capture does not match the booking');
      // this order can never pay for the booking: release the hold and give the money back
      await em.transactional(async (tx) => {
        await releaseHold(tx, bookingId, 'CANCELLED', now);
        await tx.execute('UPDATE bookings SET refund_due_at = coalesce(refund_due_at, ?) WHERE id = ?', [
          now,
          bookingId,
        ]);
      });
      const refund = await refundUndeliverable(deps, em, booking, capture);
      return { kind: 'failed', booking: await reload(), reason: 'mismatch', refund };
    }
    const result = await confirmSale(em, bookingId, capture.id, now);
    booking = await reload();
    if (result === 'confirmed' || result === 'already_confirmed') return { kind: 'confirmed', booking };
    // the hold was cancelled or expired (and could not be revived) while PayPal took the money
    return closed(await refundUndeliverable(deps, em, booking, capture));
  } catch (error) {
    deps.log.error({ err: error, bookingId, captureId: capture.id }, 'recording a completed capture failed');
    return { kind: 'processing', booking };
  }
}

/** The buyer cancelled at PayPal: release that hold once; after a capture nothing changes. */
export async function cancelCheckout(
  deps: CheckoutDeps,
  em: EntityManager,
  bookingId: string,
): Promise<{ booking: Booking; released: boolean }> {
  const released = await releaseHold(em, bookingId, 'CANCELLED', deps.clock.now());
  const booking = await loadBooking(em, bookingId);
  if (!booking) throw new DomainError('BOOKING_NOT_FOUND', 'No such booking');
  return { booking, released };
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
