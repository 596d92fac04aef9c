import {
  type BookingRefund,
  DomainError,
  type PaymentRecord,
  type Refund,
  type RefundProgress,
  type RefundSource,
} from '@boxoffice/contracts';
import { Booking, type EntityManager } from '@boxoffice/db';
import { scheduleJob } from '../jobs/job-queue.ts';
import { toBookingDto } from '../modules/bookings/booking-dto.ts';
import { refundSale } from '../modules/inventory/ledger.ts';
import {
  type CheckoutDeps,
  moneyNotGivenBack,
  recordPayment,
  refundAndRecord,
  settlePayment,
} from './checkout.service.ts';
import { type PayPalCaptureView, PayPalError, type PayPalRefundView, payPalFailureKind } from './paypal/gateway.ts';

/**
 * Money going back for a paid booking: asked for by an admin, by the event's cancellation, or done
 * by PayPal itself (a refund in its dashboard, a chargeback). Refunds are full. A request is stored
 * once per booking (refund_requests) with a job that follows it until PayPal has refunded; the
 * tickets move through the ledger (`refundSale`) only once the money is back, and every refund
 * PayPal answers with, failed ones included, is in the payments ledger.
 */

export type RefundsDeps = {
  checkout: CheckoutDeps;
  /** Attempts running in this process, so parallel requests for one booking share one run. */
  refunding: Map<string, Promise<RefundAttempt>>;
};

export type RefundAttempt = 'completed' | 'pending' | 'failed' | 'unavailable' | 'nothing_to_do';

/** How soon the job looks at a refund an admin started inline, in case that request dies midway. */
const WATCH_MS = 60_000;

type RequestRow = {
  booking_id: string;
  source: RefundSource;
  reason: string;
  status: Refund['status'];
  last_error: string | null;
  requested_at: Date;
  completed_at: Date | null;
};

async function loadBooking(em: EntityManager, bookingId: string): Promise<Booking | null> {
  const rows = await em.execute('SELECT * FROM bookings WHERE id = ?', [bookingId]);
  return rows[0] ? em.map(Booking, rows[0] as Record<string, unknown>) : null;
}

async function loadRequest(em: EntityManager, bookingId: string): Promise<RequestRow | null> {
  const [row] = await em.execute<RequestRow[]>('SELECT * FROM refund_requests WHERE booking_id = ?', [bookingId]);
  return row ?? null;
}

const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

/** The refund of each of these bookings, as the API shows it. */
export async function refundViews(em: EntityManager, bookingIds: string[]): Promise<Map<string, Refund>> {
  if (bookingIds.length === 0) return new Map();
  const rows = await em.execute<(RequestRow & { total_minor: number; currency: string; answered: number })[]>(
    `SELECT r.*, b.total_minor, trim(b.currency) AS currency,
            (SELECT count(*)::int FROM payments p WHERE p.booking_id = r.booking_id AND p.kind = 'refund') AS answered
       FROM refund_requests r JOIN bookings b ON b.id = r.booking_id
      WHERE r.booking_id = ANY(?::uuid[])`,
    [`{${bookingIds.join(',')}}`],
  );
  return new Map(
    rows.map((row) => [
      row.booking_id,
      {
        bookingId: row.booking_id,
        status: row.status,
        source: row.source,
        reason: row.reason,
        amountMinor: row.total_minor,
        currency: row.currency,
        attempts: row.answered,
        lastError: row.last_error,
        requestedAt: iso(row.requested_at) as string,
        completedAt: iso(row.completed_at),
      },
    ]),
  );
}

/** The payments ledger's entries for each of these bookings, oldest first. */
export async function paymentRecords(em: EntityManager, bookingIds: string[]): Promise<Map<string, PaymentRecord[]>> {
  const records = new Map<string, PaymentRecord[]>(bookingIds.map((id) => [id, []]));
  if (bookingIds.length === 0) return records;
  const rows = await em.execute<
    {
      booking_id: string;
      kind: 'capture' | 'refund';
      provider_ref: string;
      status: string;
      amount_minor: number;
      currency: string;
      created_at: Date;
    }[]
  >(
    `SELECT booking_id, kind, provider_ref, status, amount_minor, trim(currency) AS currency, created_at
       FROM payments WHERE booking_id = ANY(?::uuid[]) ORDER BY created_at, kind, provider_ref`,
    [`{${bookingIds.join(',')}}`],
  );
  for (const row of rows)
    records.get(row.booking_id)?.push({
      kind: row.kind,
      provider: 'paypal',
      providerRef: row.provider_ref,
      status: row.status,
      amountMinor: row.amount_minor,
      currency: row.currency,
      recordedAt: new Date(row.created_at).toISOString(),
    });
  return records;
}

/** Marks the request done and moves the tickets (CONFIRMED → REFUNDED once, tickets back while the event is ahead). */
async function finishRefund(deps: RefundsDeps, em: EntityManager, bookingId: string): Promise<'completed'> {
  const now = deps.checkout.clock.now();
  await em.transactional(async (tx) => {
    await refundSale(tx, bookingId, now);
    await tx.execute(
      `UPDATE refund_requests SET status = 'completed', last_error = NULL, completed_at = coalesce(completed_at, ?),
              updated_at = ? WHERE booking_id = ?`,
      [now, now, bookingId],
    );
  });
  return 'completed';
}

async function markFailed(deps: RefundsDeps, em: EntityManager, bookingId: string, error: string) {
  await em.execute(
    `UPDATE refund_requests SET status = 'failed', last_error = ?, updated_at = ? WHERE booking_id = ? AND status <> 'completed'`,
    [error.slice(0, 500), deps.checkout.clock.now(), bookingId],
  );
}

async function notePending(deps: RefundsDeps, em: EntityManager, bookingId: string, error: string | null) {
  await em.execute(
    `UPDATE refund_requests SET status = 'pending', last_error = ?, updated_at = ? WHERE booking_id = ? AND status <> 'completed'`,
    [error?.slice(0, 500) ?? null, deps.checkout.clock.now(), bookingId],
  );
}

/** The booking's completed capture: from our payments ledger, else from the order at PayPal (and recorded). */
async function captureOf(deps: RefundsDeps, em: EntityManager, booking: Booking): Promise<PayPalCaptureView | null> {
  const [row] = await em.execute<{ provider_ref: string; amount_minor: number; currency: string }[]>(
    `SELECT provider_ref, amount_minor, trim(currency) AS currency FROM payments
      WHERE booking_id = ? AND kind = 'capture' AND status = 'COMPLETED'
      ORDER BY (provider_ref = ?) DESC, created_at LIMIT 1`,
    [booking.id, booking.paypalCaptureId ?? ''],
  );
  if (row)
    return {
      id: row.provider_ref,
      status: 'COMPLETED',
      amountMinor: row.amount_minor,
      currency: row.currency,
      customId: booking.id,
      invoiceId: booking.id,
    };
  if (!booking.paypalOrderId) return null;
  const order = await deps.checkout.gateway.getOrder(booking.paypalOrderId);
  const capture = order.captures.find(
    (c) => c.status !== 'DECLINED' && c.status !== 'PENDING' && c.status !== 'FAILED',
  );
  if (!capture || order.customId !== booking.id) return null;
  await recordPayment(em, {
    bookingId: booking.id,
    kind: 'capture',
    ref: capture.id,
    status: 'COMPLETED',
    amountMinor: capture.amountMinor,
    currency: capture.currency,
  });
  for (const refund of order.refunds) await recordRefundOf(em, booking.id, refund);
  return capture;
}

async function recordRefundOf(em: EntityManager, bookingId: string, refund: PayPalRefundView) {
  await recordPayment(em, {
    bookingId,
    kind: 'refund',
    ref: refund.refundId,
    status: refund.status,
    amountMinor: refund.amountMinor,
    currency: refund.currency,
  });
}

/**
 * One attempt to give a refund request's money back, run by the admin's request and by the job
 * that follows it. Never more than was captured: what goes back is what our ledger says was taken
 * and not yet returned, and PayPal-Request-Id makes parallel attempts one refund.
 */
export function attemptRefund(deps: RefundsDeps, em: EntityManager, bookingId: string): Promise<RefundAttempt> {
  const running = deps.refunding.get(bookingId);
  if (running) return running;
  const run = refundOnce(deps, em, bookingId).finally(() => deps.refunding.delete(bookingId));
  deps.refunding.set(bookingId, run);
  return run;
}

async function refundOnce(deps: RefundsDeps, em: EntityManager, bookingId: string): Promise<RefundAttempt> {
  const request = await loadRequest(em, bookingId);
  if (!request || request.status === 'completed') return 'nothing_to_do';
  const booking = await loadBooking(em, bookingId);
  if (!booking) return 'nothing_to_do';
  if (booking.status === 'REFUNDED') return finishRefund(deps, em, bookingId);
  // only a confirmed booking is ever asked to refund, and CONFIRMED moves on only to REFUNDED
  if (booking.status !== 'CONFIRMED') return 'nothing_to_do';
  const { gateway, log } = deps.checkout;
  try {
    // a refund PayPal is still working on: learn its outcome instead of asking for another
    const [pending] = await em.execute<{ provider_ref: string }[]>(
      "SELECT provider_ref FROM payments WHERE booking_id = ? AND kind = 'refund' AND status = 'PENDING' LIMIT 1",
      [bookingId],
    );
    if (pending) {
      const refund = await gateway.getRefund(pending.provider_ref);
      await recordRefundOf(em, bookingId, refund);
      if (refund.status === 'PENDING') return 'pending';
    }
    const capture = await captureOf(deps, em, booking);
    // a free booking (or one paid with nothing): no money to move, only the tickets
    if (!capture) {
      if (booking.totalMinor === 0 || !booking.paypalOrderId) return finishRefund(deps, em, bookingId);
      await markFailed(deps, em, bookingId, 'PayPal shows no completed capture for this booking');
      return 'failed';
    }
    const owed = await moneyNotGivenBack(em, bookingId);
    if (owed <= 0) return finishRefund(deps, em, bookingId);
    const refund = await refundAndRecord(deps.checkout, em, booking, { ...capture, amountMinor: owed });
    if (refund.status === 'COMPLETED') return finishRefund(deps, em, bookingId);
    if (refund.status === 'PENDING') {
      await notePending(deps, em, bookingId, null);
      return 'pending';
    }
    log.warn({ bookingId, refundId: refund.refundId, status: refund.status }, 'PayPal refused the refund; retrying');
    await markFailed(deps, em, bookingId, `PayPal answered ${refund.status}`);
    return 'failed';
  } catch (error) {
    if (error instanceof PayPalError && error.issue === 'CAPTURE_FULLY_REFUNDED' && booking.paypalOrderId) {
      // refunded at PayPal already (its dashboard, a chargeback): take PayPal's refunds on our books
      const order = await gateway.getOrder(booking.paypalOrderId).catch(() => null);
      for (const refund of order?.refunds ?? []) await recordRefundOf(em, bookingId, refund);
      if ((await moneyNotGivenBack(em, bookingId)) <= 0) return finishRefund(deps, em, bookingId);
    }
    const kind = payPalFailureKind(error);
    if (kind === 'unavailable' || kind === null) {
      if (kind === null) log.error({ err: error, bookingId }, 'refund attempt failed');
      await notePending(deps, em, bookingId, error instanceof Error ? error.message : 'refund attempt failed');
      return 'unavailable';
    }
    await markFailed(deps, em, bookingId, error instanceof Error ? error.message : String(error));
    return 'failed';
  }
}

/** Stores the request (once per booking) with the job that sees it through; false when one existed. */
async function claimRefund(
  deps: RefundsDeps,
  em: EntityManager,
  bookingId: string,
  request: { source: RefundSource; reason: string; requestedBy: string | null; runInMs: number },
): Promise<boolean> {
  const now = deps.checkout.clock.now();
  return em.transactional(async (tx) => {
    const rows = await tx.execute<{ booking_id: string }[]>(
      `INSERT INTO refund_requests (booking_id, source, reason, requested_by, status, requested_at, updated_at)
       VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (booking_id) DO NOTHING RETURNING booking_id`,
      [bookingId, request.source, request.reason, request.requestedBy, now, now],
    );
    if (rows.length === 0) return false;
    await scheduleJob(
      tx,
      'refund-booking',
      { bookingId },
      { runAt: new Date(now.getTime() + request.runInMs), jobKey: bookingId },
    );
    return true;
  });
}

/**
 * An admin's refund of a whole booking. Only a CONFIRMED booking can be refunded (409
 * BOOKING_NOT_REFUNDABLE otherwise, BOOKING_ALREADY_REFUNDED once it is). The first request is
 * kept with its reason; asking again while it runs joins it, and after PayPal failed it tries again.
 */
export async function refundBooking(
  deps: RefundsDeps,
  em: EntityManager,
  bookingId: string,
  request: { reason: string; requestedBy: string },
): Promise<BookingRefund> {
  const booking = await loadBooking(em, bookingId);
  if (!booking) throw new DomainError('BOOKING_NOT_FOUND', 'No such booking', { field: 'bookingId' });
  if (booking.status === 'REFUNDED')
    throw new DomainError('BOOKING_ALREADY_REFUNDED', 'This booking has been refunded already', { status: 'REFUNDED' });
  if (booking.status !== 'CONFIRMED')
    throw new DomainError(
      'BOOKING_NOT_REFUNDABLE',
      `Only confirmed bookings can be refunded; this one is ${booking.status}`,
      { status: booking.status },
    );
  await claimRefund(deps, em, bookingId, { source: 'admin', ...request, runInMs: WATCH_MS });
  await attemptRefund(deps, em, bookingId);
  const after = (await loadBooking(em, bookingId)) as Booking;
  const refund = (await refundViews(em, [bookingId])).get(bookingId) as Refund;
  return { booking: toBookingDto(after), refund };
}

/**
 * The event is being cancelled (the caller's transaction holds its row lock): every CONFIRMED
 * booking gets a refund request and a job that carries it out. Returns how many were scheduled.
 */
export async function scheduleEventRefunds(em: EntityManager, eventId: string, now: Date): Promise<number> {
  const rows = await em.execute<{ booking_id: string }[]>(
    `INSERT INTO refund_requests (booking_id, source, reason, status, requested_at, updated_at)
     SELECT id, 'event_cancelled', 'The event was cancelled', 'pending', ?, ? FROM bookings
      WHERE event_id = ? AND status = 'CONFIRMED'
     ON CONFLICT (booking_id) DO NOTHING RETURNING booking_id`,
    [now, now, eventId],
  );
  for (const { booking_id: bookingId } of rows)
    await scheduleJob(em, 'refund-booking', { bookingId }, { runAt: now, jobKey: bookingId });
  return rows.length;
}

export async function eventRefundProgress(em: EntityManager, eventId: string): Promise<RefundProgress> {
  const [row] = await em.execute<{ refunds: number; refunded: number; pending: number; failed: number }[]>(
    `SELECT count(*)::int AS refunds,
            count(*) FILTER (WHERE r.status = 'completed')::int AS refunded,
            count(*) FILTER (WHERE r.status = 'pending')::int AS pending,
            count(*) FILTER (WHERE r.status = 'failed')::int AS failed
       FROM refund_requests r JOIN bookings b ON b.id = r.booking_id WHERE b.event_id = ?`,
    [eventId],
  );
  return {
    eventId,
    refunds: row?.refunds ?? 0,
    refunded: row?.refunded ?? 0,
    pending: row?.pending ?? 0,
    failed: row?.failed ?? 0,
  };
}

/**
 * PayPal says money went back that we did not necessarily ask for (a dashboard refund, a
 * chargeback), as re-read from PayPal: the refund goes on our books, and once the whole capture is
 * back a confirmed booking is REFUNDED (tickets back while the event is ahead). An open or released
 * hold is settled the way the reconcile job settles it.
 */
export async function applyProviderRefund(
  deps: RefundsDeps,
  em: EntityManager,
  bookingId: string,
  found: { refund: PayPalRefundView; capture: PayPalCaptureView },
): Promise<'refunded' | 'partial' | 'settled' | 'pending'> {
  const { refund, capture } = found;
  await recordPayment(em, {
    bookingId,
    kind: 'capture',
    ref: capture.id,
    // the money was taken; that it went back is the refund's entry
    status: capture.status === 'REFUNDED' || capture.status === 'PARTIALLY_REFUNDED' ? 'COMPLETED' : capture.status,
    amountMinor: capture.amountMinor,
    currency: capture.currency,
  });
  await recordRefundOf(em, bookingId, refund);
  if (refund.status !== 'COMPLETED') return 'pending';
  const booking = (await loadBooking(em, bookingId)) as Booking;
  if (booking.status !== 'CONFIRMED' && booking.status !== 'REFUNDED') {
    await settlePayment(deps.checkout, em, bookingId, 'after_release');
    return 'settled';
  }
  const wholeCapture = capture.status === 'REFUNDED' || (await moneyNotGivenBack(em, bookingId)) <= 0;
  if (!wholeCapture) {
    deps.checkout.log.warn({ bookingId, refundId: refund.refundId }, 'part of a capture was refunded at PayPal');
    return 'partial';
  }
  const now = deps.checkout.clock.now();
  await em.execute(
    `INSERT INTO refund_requests (booking_id, source, reason, status, requested_at, updated_at)
     VALUES (?, 'paypal', 'Refunded at PayPal', 'pending', ?, ?) ON CONFLICT (booking_id) DO NOTHING`,
    [bookingId, now, now],
  );
  await finishRefund(deps, em, bookingId);
  return 'refunded';
}
