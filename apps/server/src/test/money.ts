import type { PayPalSimulatorControls } from '@boxoffice/paypal-simulator';
import { expect } from 'vitest';
import { EVENT_COUNTS_SQL, type EventCountsRow } from '../stress/invariants.ts';
import { makeBuyers, seedEvent } from './fixtures.ts';
import type { TestServer } from './harness.ts';

/**
 * Helpers for the tests where money goes back (webhooks, refunds, reconciliation), and the check
 * that money and tickets agree across the whole database afterwards.
 */

export type PaidHold = { bookingId: string; orderId: string; eventId: string; token: string; buyerId: string };

/** The PayPal order of a hold: from its payment link, followed as a browser does when it is ours. */
export async function orderOfHold(server: TestServer, booking: { id: string; paymentUrl: string | null }) {
  const [row] = await server.sql<{ paypal_order_id: string | null }>(
    'SELECT paypal_order_id FROM bookings WHERE id = ?',
    [booking.id],
  );
  if (row?.paypal_order_id) return row.paypal_order_id;
  if (!booking.paymentUrl) throw new Error('the hold has no payment link');
  const direct = new URL(booking.paymentUrl).searchParams.get('token');
  if (direct) return direct;
  const res = await fetch(booking.paymentUrl, { redirect: 'manual' });
  const location = res.headers.get('location');
  if (!location) throw new Error(`the payment link answered ${res.status}`);
  return new URL(location).searchParams.get('token') as string;
}

/** A paid hold with its PayPal order, on an event of its own unless one is given. */
export async function paidHold(
  server: TestServer,
  opts: { eventId?: string; quantity?: number; buyer?: { id: string; token: string } } = {},
): Promise<PaidHold> {
  const eventId = opts.eventId ?? (await seedEvent(server, { capacity: 10, priceMinor: 2500 }));
  const buyer = opts.buyer ?? (await makeBuyers(server, 1))[0];
  if (!buyer) throw new Error('no buyer');
  const res = await server.http('POST', `/api/events/${eventId}/book`, {
    token: buyer.token,
    body: { quantity: opts.quantity ?? 2 },
  });
  if (res.status !== 200) throw new Error(`booking failed: ${res.status} ${JSON.stringify(res.body)}`);
  const orderId = await orderOfHold(server, res.body);
  return { bookingId: res.body.id, orderId, eventId, token: buyer.token, buyerId: buyer.id };
}

/**
 * Waits until the simulator has no webhook delivery in flight and, unless `queued: false` (while
 * deliveries are paused), none due by `now` still queued.
 */
export async function webhooksDelivered(
  sim: PayPalSimulatorControls,
  opts: { queued?: boolean; now?: () => Date; timeoutMs?: number } = {},
) {
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 5000;
  for (;;) {
    const now = (opts.now?.() ?? new Date()).getTime();
    const busy = sim
      .webhookDeliveries()
      .some(
        (d) => d.state === 'sending' || (opts.queued !== false && d.state === 'queued' && Date.parse(d.dueAt) <= now),
      );
    if (!busy) return;
    if (Date.now() - started > timeoutMs) throw new Error('webhook deliveries did not finish');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const bookingStatus = async (server: TestServer, bookingId: string) =>
  (await server.sql<{ status: string }>('SELECT status FROM bookings WHERE id = ?', [bookingId]))[0]?.status;

export const ledgerOf = (server: TestServer, bookingId: string) =>
  server.sql<{ kind: string; status: string; amount_minor: number }>(
    'SELECT kind, status, amount_minor FROM payments WHERE booking_id = ? ORDER BY kind, status',
    [bookingId],
  );

/**
 * Money and tickets agree everywhere (C2, C3): every CONFIRMED paid booking has exactly one completed
 * capture for its total and nothing refunded; every REFUNDED paid booking got back what was
 * captured; every event has `available + held + sold = capacity`, held = HELD tickets, and sold =
 * CONFIRMED tickets plus those refunded after the event started (the ledger keeps those counted).
 */
export async function expectMoneyAndTicketsAgree(server: TestServer) {
  const confirmed = await server.sql<{
    id: string;
    total_minor: number;
    captures: number;
    captured: number;
    refunded: number;
  }>(
    `SELECT b.id, b.total_minor,
            count(*) FILTER (WHERE p.kind = 'capture' AND p.status = 'COMPLETED')::int AS captures,
            coalesce(sum(p.amount_minor) FILTER (WHERE p.kind = 'capture' AND p.status = 'COMPLETED'), 0)::int AS captured,
            coalesce(sum(p.amount_minor) FILTER (WHERE p.kind = 'refund' AND p.status = 'COMPLETED'), 0)::int AS refunded
       FROM bookings b LEFT JOIN payments p ON p.booking_id = b.id
      WHERE b.status = 'CONFIRMED' AND b.total_minor > 0 GROUP BY b.id`,
  );
  for (const row of confirmed)
    expect(row, `CONFIRMED booking ${row.id}`).toMatchObject({ captures: 1, captured: row.total_minor, refunded: 0 });
  const refunded = await server.sql<{ id: string; captured: number; refunded: number }>(
    `SELECT b.id,
            coalesce(sum(p.amount_minor) FILTER (WHERE p.kind = 'capture' AND p.status = 'COMPLETED'), 0)::int AS captured,
            coalesce(sum(p.amount_minor) FILTER (WHERE p.kind = 'refund' AND p.status = 'COMPLETED'), 0)::int AS refunded
       FROM bookings b LEFT JOIN payments p ON p.booking_id = b.id
      WHERE b.status = 'REFUNDED' AND b.total_minor > 0 GROUP BY b.id`,
  );
  for (const row of refunded) {
    expect(row.captured, `REFUNDED booking ${row.id} captured`).toBeGreaterThan(0);
    expect(row.refunded, `REFUNDED booking ${row.id}`).toBe(row.captured);
  }
  const events = await server.sql<EventCountsRow>(EVENT_COUNTS_SQL);
  for (const event of events) {
    expect(event.available + event.held + event.sold, `event ${event.id} adds up`).toBe(event.capacity);
    expect(Math.min(event.available, event.held, event.sold), `event ${event.id} non-negative`).toBeGreaterThanOrEqual(
      0,
    );
    expect(event.held, `event ${event.id} held`).toBe(event.held_bookings);
    expect(event.sold, `event ${event.id} sold`).toBe(event.sold_bookings);
  }
  return { confirmed: confirmed.length, refunded: refunded.length, events: events.length };
}
