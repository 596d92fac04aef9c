import { randomUUID } from 'node:crypto';
import type { PayPalSimulatorControls } from '@boxoffice/paypal-simulator';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../lib/clock.ts';
import {
  approvalUrlOf,
  expectBalanced,
  makeBuyers,
  pressPayPalButton,
  seedEvent,
  startPayment,
  ticketCounts,
} from '../test/fixtures.ts';
import { signInAdmin, startTestServer, type TestServer } from '../test/harness.ts';

const clock = manualClock(new Date('2026-12-01T10:00:00Z'));
let server: TestServer;
let sim: PayPalSimulatorControls;
beforeAll(async () => {
  server = await startTestServer({ clock, env: { PAYPAL_TIMEOUT_MS: '500', ACCESS_TOKEN_EXPIRE_MINUTES: '600' } });
  sim = server.deps.paypalSimulator!.controls;
});
afterAll(() => server?.close());
beforeEach(() => sim.reset());

type Held = {
  bookingId: string;
  orderId: string;
  eventId: string;
  token: string;
  paymentUrl: string;
  approvalUrl: string;
};

async function hold(
  opts: { capacity?: number; quantity?: number; priceMinor?: number; body?: Record<string, unknown> } = {},
): Promise<Held> {
  const eventId = await seedEvent(server, { capacity: opts.capacity ?? 10, priceMinor: opts.priceMinor ?? 2500 });
  const [buyer] = await makeBuyers(server, 1);
  const res = await server.http('POST', `/api/events/${eventId}/book`, {
    token: buyer!.token,
    body: { quantity: opts.quantity ?? 2, ...opts.body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  // the buyer goes to pay: the payment link creates the PayPal order
  const approvalUrl = await approvalUrlOf(res.body);
  const [row] = await server.sql<{ paypal_order_id: string }>('SELECT paypal_order_id FROM bookings WHERE id = ?', [
    res.body.id,
  ]);
  return {
    bookingId: res.body.id,
    orderId: row!.paypal_order_id,
    eventId,
    token: buyer!.token,
    paymentUrl: res.body.paymentUrl,
    approvalUrl,
  };
}

const approve = (orderId: string) => pressPayPalButton(server, orderId, 'approve');
const cancelAtPayPal = (orderId: string) => pressPayPalButton(server, orderId, 'cancel');

const visit = (url: string) => server.http('GET', url.replace(server.url, ''));
const status = async (bookingId: string) =>
  (await server.sql<{ status: string }>('SELECT status FROM bookings WHERE id = ?', [bookingId]))[0]?.status;

describe('checkout through the return URL', () => {
  it('the payment link leads to a PayPal approval URL; the amount is computed on the server (P1)', async () => {
    const held = await hold({ quantity: 3, priceMinor: 1250 });
    expect(held.paymentUrl).toMatch(/\/payments\/paypal\/start\?ref=/);
    expect(held.approvalUrl).toMatch(/\/paypal-sim\/checkoutnow\?token=/);
    const order = sim.order(held.orderId)!;
    expect(order.amount).toEqual({ currency_code: 'EUR', value: '37.50' });
    expect(order.customId).toBe(held.bookingId);
    expect(order.invoiceId).toBe(held.bookingId);
    expect(order.returnUrl).toMatch(/\/payments\/paypal\/return\?ref=/);
    for (const request of sim.requests()) {
      expect(request.url).not.toContain('eyJ');
      expect(request.body).not.toContain('eyJ');
    }
    expect(order.returnUrl).not.toContain('eyJ');
    expect(order.cancelUrl).not.toContain('eyJ');
  });

  it('approve → return confirms: one capture, held → sold, payment recorded (P4)', async () => {
    const held = await hold({ quantity: 2 });
    const back = await approve(held.orderId);
    expect(back).toContain(`token=${held.orderId}`);
    const res = await visit(back);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ state: 'confirmed', booking: { id: held.bookingId, status: 'CONFIRMED' } });
    expect(await expectBalanced(server, held.eventId)).toMatchObject({ sold: 2, held: 0, available: 8 });
    const payments = await server.sql('SELECT kind, amount_minor, currency FROM payments WHERE booking_id = ?', [
      held.bookingId,
    ]);
    expect(payments).toEqual([{ kind: 'capture', amount_minor: 5000, currency: 'EUR' }]);
    expect(sim.captureCount(held.orderId)).toBe(1);
    // a second visit shows the same result and captures nothing
    expect((await visit(back)).body.state).toBe('confirmed');
    expect(sim.captureCount(held.orderId)).toBe(1);
  });

  it('browsers get an HTML page with the booking reference', async () => {
    const held = await hold();
    const back = await approve(held.orderId);
    const page = await fetch(back, { headers: { accept: 'text/html' } });
    const html = await page.text();
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(html).toContain('your tickets are confirmed');
    expect(html).toContain(held.bookingId);
  });

  it('ten parallel return visits give exactly one capture and one payment row (P5)', async () => {
    const held = await hold();
    const back = await approve(held.orderId);
    const results = await Promise.all(Array.from({ length: 10 }, () => visit(back)));
    expect(results.every((r) => r.body.state === 'confirmed')).toBe(true);
    expect(sim.captureCount(held.orderId)).toBe(1);
    const rows = await server.sql('SELECT count(*)::int AS n FROM payments WHERE booking_id = ?', [held.bookingId]);
    expect(rows[0]?.n).toBe(1);
    await expectBalanced(server, held.eventId);
  });

  it('ORDER_ALREADY_CAPTURED is reconciled from the order, not shown as an error (P5)', async () => {
    const held = await hold();
    const back = await approve(held.orderId);
    // the capture happens at PayPal but its answer is lost
    sim.failNext('captureOrder', { when: 'after', times: 3 });
    const first = await visit(back);
    expect(first.body.state).toBe('unavailable');
    expect(await status(held.bookingId)).toBe('HELD');
    const second = await visit(back);
    expect(second.body.state).toBe('confirmed');
    expect(sim.captureCount(held.orderId)).toBe(1);
  });
});

describe('the return redirect is never proof of payment (P3)', () => {
  it('a random order id changes nothing', async () => {
    const held = await hold();
    const back = new URL(await approve(held.orderId));
    back.searchParams.set('token', `FAKE${randomUUID().slice(0, 8)}`);
    const res = await visit(back.toString());
    expect(res.status).toBe(404);
    expect(await status(held.bookingId)).toBe('HELD');
  });

  it('an unapproved order changes nothing and captures nothing', async () => {
    const held = await hold();
    const order = sim.order(held.orderId)!;
    const res = await visit(`${order.returnUrl}&token=${held.orderId}`);
    expect(res.body.state).toBe('not_approved');
    expect(await status(held.bookingId)).toBe('HELD');
    expect(sim.captureCount(held.orderId)).toBe(0);
  });

  it("another user's order with my reference changes nothing", async () => {
    const mine = await hold();
    const theirs = await hold();
    await approve(theirs.orderId);
    const res = await visit(`${sim.order(mine.orderId)!.returnUrl}&token=${theirs.orderId}`);
    expect(res.status).toBe(404);
    expect(await status(mine.bookingId)).toBe('HELD');
    expect(await status(theirs.bookingId)).toBe('HELD');
    expect(sim.captureCount(theirs.orderId)).toBe(0);
  });

  it('a forged reference changes nothing', async () => {
    const held = await hold();
    const back = new URL(await approve(held.orderId));
    back.searchParams.set('ref', `${held.bookingId}.forged`);
    const res = await visit(back.toString());
    expect(res.status).toBe(400);
    expect(await status(held.bookingId)).toBe('HELD');
  });
});

describe('captures that must not confirm (P4)', () => {
  it('PENDING keeps the hold', async () => {
    const held = await hold();
    sim.queueCapture({ orderId: held.orderId, status: 'PENDING' });
    const res = await visit(await approve(held.orderId));
    expect(res).toMatchObject({ status: 202, body: { state: 'pending' } });
    expect(await ticketCounts(server, held.eventId)).toMatchObject({ held: 2, sold: 0 });
  });

  it('DECLINED releases the hold', async () => {
    const held = await hold();
    sim.queueCapture({ orderId: held.orderId, status: 'DECLINED' });
    const res = await visit(await approve(held.orderId));
    expect(res.body.state).toBe('failed_declined');
    expect(await status(held.bookingId)).toBe('CANCELLED');
    expect(await expectBalanced(server, held.eventId)).toMatchObject({ available: 10, held: 0 });
  });

  it('INSTRUMENT_DECLINED sends the buyer back to PayPal with the hold kept', async () => {
    const held = await hold();
    sim.queueCapture({ orderId: held.orderId, instrumentDeclined: true });
    const res = await visit(await approve(held.orderId));
    expect(res.body).toMatchObject({ state: 'not_approved', booking: { status: 'HELD', paymentUrl: held.paymentUrl } });
  });

  it.each([
    ['short by one cent', { amountValue: '49.99' }],
    ['the wrong currency', { currency: 'USD' }],
    ['a foreign custom_id', { customId: randomUUID() }],
  ])('%s never confirms, and the money goes back', async (_name, behaviour) => {
    const held = await hold();
    sim.queueCapture({ orderId: held.orderId, ...behaviour });
    const res = await visit(await approve(held.orderId));
    expect(res.status).toBe(422);
    expect(res.body.state).toBe('failed_mismatch');
    // that order can never pay for the booking: the hold is released and the money goes back
    expect(await status(held.bookingId)).toBe('CANCELLED');
    expect(await expectBalanced(server, held.eventId)).toMatchObject({ sold: 0, held: 0, available: 10 });
    const refunds = await server.sql(
      "SELECT count(*)::int AS n FROM payments WHERE booking_id = ? AND kind = 'refund'",
      [held.bookingId],
    );
    expect(refunds[0]?.n).toBe(1);
  });
});

describe('cancel URL (P6)', () => {
  it('releases the hold once; twice releases once', async () => {
    const held = await hold({ quantity: 3 });
    const cancelUrl = await cancelAtPayPal(held.orderId);
    const first = await visit(cancelUrl);
    expect(first.body).toMatchObject({ state: 'cancelled', booking: { status: 'CANCELLED' } });
    const second = await visit(cancelUrl);
    expect(second.body).toMatchObject({ state: 'cancelled', booking: { status: 'CANCELLED' } });
    expect(await expectBalanced(server, held.eventId)).toMatchObject({ available: 10, held: 0 });
  });

  it('after a capture changes nothing', async () => {
    const held = await hold({ quantity: 3 });
    await visit(await approve(held.orderId));
    const res = await visit(await cancelAtPayPal(held.orderId));
    expect(res.body).toMatchObject({ state: 'confirmed', booking: { status: 'CONFIRMED' } });
    expect(await expectBalanced(server, held.eventId)).toMatchObject({ sold: 3, available: 7 });
  });
});

describe('approval after the hold expired (P7)', () => {
  it('tickets left: re-reserved and captured', async () => {
    const held = await hold({ quantity: 2 });
    const back = await approve(held.orderId);
    clock.advance(16 * 60_000);
    const res = await visit(back);
    expect(res.body).toMatchObject({ state: 'confirmed', booking: { status: 'CONFIRMED' } });
    // it went through EXPIRED (tickets back on sale) before being revived
    expect(res.body.booking.expiredAt).toEqual(expect.any(String));
    expect(await expectBalanced(server, held.eventId)).toMatchObject({ sold: 2, held: 0, available: 8 });
  });

  it('a late approval cannot exceed the per-user limit: no capture', async () => {
    const eventId = await seedEvent(server, { capacity: 20, maxPerOrder: 4, maxPerUser: 4 });
    const [buyer] = await makeBuyers(server, 1);
    const first = await server.http('POST', `/api/events/${eventId}/book`, {
      token: buyer!.token,
      body: { quantity: 4 },
    });
    const firstOrder = sim.order(await startPayment(first.body))!;
    const lateReturn = await approve(firstOrder.id);
    clock.advance(16 * 60_000);
    const second = await server.http('POST', `/api/events/${eventId}/book`, {
      token: buyer!.token,
      body: { quantity: 4 },
    });
    expect(second.status).toBe(200);
    const secondOrder = await startPayment(second.body);
    expect((await visit(await approve(secondOrder))).body.state).toBe('confirmed');
    const res = await visit(lateReturn);
    expect(res.body).toMatchObject({ state: 'expired', booking: { status: 'EXPIRED' } });
    expect(sim.captureCount(firstOrder.id)).toBe(0);
    expect(await expectBalanced(server, eventId)).toMatchObject({ sold: 4 });
  });

  it('none left: no capture, booking EXPIRED, buyer told', async () => {
    const held = await hold({ capacity: 2, quantity: 2 });
    const back = await approve(held.orderId);
    clock.advance(16 * 60_000);
    const [rival] = await makeBuyers(server, 1);
    expect(
      (await server.http('POST', `/api/events/${held.eventId}/book`, { token: rival!.token, body: { quantity: 2 } }))
        .status,
    ).toBe(200);
    const res = await visit(back);
    expect(res).toMatchObject({ status: 410, body: { state: 'expired', booking: { status: 'EXPIRED' } } });
    expect(sim.captureCount(held.orderId)).toBe(0);
    await expectBalanced(server, held.eventId);
  });
});

describe('money never stays without tickets', () => {
  const refunds = (bookingId: string) =>
    server.sql<{ kind: string; amount_minor: number }>(
      'SELECT kind, amount_minor FROM payments WHERE booking_id = ? ORDER BY kind',
      [bookingId],
    );

  it('an event cancelled while the capture is in flight: the capture is refunded', async () => {
    const held = await hold({ quantity: 2 });
    const back = await approve(held.orderId);
    const admin = await signInAdmin(server);
    sim.hangNext('captureOrder', { ms: 1500, when: 'before' });
    const visiting = visit(back);
    // cancel while PayPal is still working on the capture
    for (let i = 0; i < 100 && !sim.requests().some((r) => r.operation === 'captureOrder' && r.status === 0); i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const cancelled = await server.http('POST', `/api/events/${held.eventId}/cancel`, { token: admin.accessToken });
    expect(cancelled.status).toBe(200);
    expect(sim.captureCount(held.orderId)).toBe(0);
    const res = await visiting;
    expect(res.body).toMatchObject({ state: 'cancelled', booking: { status: 'CANCELLED' } });
    expect(await refunds(held.bookingId)).toEqual([
      { kind: 'capture', amount_minor: 5000 },
      { kind: 'refund', amount_minor: 5000 },
    ]);
    expect(sim.order(held.orderId)?.captures[0]?.status).toBe('REFUNDED');
    expect(await expectBalanced(server, held.eventId)).toMatchObject({ sold: 0, held: 0 });
  });

  it('a capture whose answer was lost, then a cancel: the reconcile job refunds it', async () => {
    const held = await hold({ quantity: 2 });
    const back = await approve(held.orderId);
    sim.failNext('captureOrder', { when: 'after', times: 3 });
    expect((await visit(back)).body.state).toBe('unavailable');
    const cancel = await server.http('POST', `/api/bookings/${held.bookingId}/cancel`, { token: held.token });
    expect(cancel.body.status).toBe('CANCELLED');
    await server.worker.runDue();
    expect(await refunds(held.bookingId)).toEqual([
      { kind: 'capture', amount_minor: 5000 },
      { kind: 'refund', amount_minor: 5000 },
    ]);
    expect(sim.order(held.orderId)?.captures[0]?.status).toBe('REFUNDED');
    expect((await visit(back)).body).toMatchObject({ state: 'cancelled', booking: { status: 'CANCELLED' } });
  });

  it('an approved but abandoned order whose hold expired is not captured by the reconcile job', async () => {
    const held = await hold({ quantity: 2 });
    await approve(held.orderId);
    clock.advance(16 * 60_000);
    await server.worker.runDue();
    expect(await status(held.bookingId)).toBe('EXPIRED');
    expect(sim.captureCount(held.orderId)).toBe(0);
    expect(await refunds(held.bookingId)).toEqual([]);
  });
});

describe('the payment link', () => {
  async function book(quantity = 2) {
    const eventId = await seedEvent(server, { capacity: 5, priceMinor: 2500 });
    const [buyer] = await makeBuyers(server, 1);
    const res = await server.http('POST', `/api/events/${eventId}/book`, { token: buyer!.token, body: { quantity } });
    expect(res.status).toBe(200);
    return { eventId, buyer: buyer!, booking: res.body };
  }
  const follow = (url: string, accept = 'application/json') => fetch(url, { redirect: 'manual', headers: { accept } });

  it('a hold answers without asking PayPal; the link makes the order once, however often it is followed', async () => {
    const { booking } = await book();
    expect(sim.requests().filter((r) => r.operation === 'createOrder')).toEqual([]);
    const first = await approvalUrlOf(booking);
    const again = await approvalUrlOf(booking);
    expect(again).toBe(first);
    expect(sim.orders().filter((o) => o.customId === booking.id)).toHaveLength(1);
    // the same order for API clients that want PayPal's link itself
    const direct = await server.http('POST', `/api/bookings/${booking.id}/payment`, { token: await tokenOf(booking) });
    expect(direct.status).toBe(200);
    expect(direct.body).toMatchObject({
      bookingId: booking.id,
      approvalUrl: first,
      holdExpiresAt: booking.holdExpiresAt,
    });
    expect(direct.body.paypalOrderId).toBe(new URL(first).searchParams.get('token'));
  });

  it('startPayment makes the order first too, for the owner only', async () => {
    const { booking, buyer } = await book();
    const [stranger] = await makeBuyers(server, 1);
    const theirs = await server.http('POST', `/api/bookings/${booking.id}/payment`, { token: stranger!.token });
    expect(theirs.status).toBe(404);
    expect(theirs.body.error.code).toBe('BOOKING_NOT_FOUND');
    const mine = await server.http('POST', `/api/bookings/${booking.id}/payment`, { token: buyer.token });
    expect(mine.status).toBe(200);
    expect(await approvalUrlOf(booking)).toBe(mine.body.approvalUrl);
    expect(sim.orders().filter((o) => o.customId === booking.id)).toHaveLength(1);
  });

  it('a booking with nothing left to pay gets a page saying so, with a way back, and no order', async () => {
    const { booking, buyer } = await book();
    await server.http('POST', `/api/bookings/${booking.id}/cancel`, { token: buyer.token });
    const json = await follow(booking.paymentUrl);
    expect(json.status).toBe(409);
    expect(await json.json()).toMatchObject({ state: 'cancelled', booking: { id: booking.id, status: 'CANCELLED' } });
    const page = await follow(booking.paymentUrl, 'text/html');
    const html = await page.text();
    expect(html).toContain('This booking is no longer open');
    expect(html).toContain(`href="${server.url}/api/events/${booking.eventId}"`);
    const direct = await server.http('POST', `/api/bookings/${booking.id}/payment`, { token: buyer.token });
    expect(direct.status).toBe(409);
    expect(direct.body.error.code).toBe('BOOKING_NOT_PAYABLE');
    expect(sim.orders().filter((o) => o.customId === booking.id)).toEqual([]);
  });

  it('a hold that lapsed before the buyer went to pay is released and says so (410)', async () => {
    const { booking, eventId } = await book(3);
    clock.advance(16 * 60_000);
    const res = await follow(booking.paymentUrl);
    expect(res.status).toBe(410);
    expect(await res.json()).toMatchObject({ state: 'expired', booking: { status: 'EXPIRED' } });
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 5, held: 0 });
    expect(sim.orders().filter((o) => o.customId === booking.id)).toEqual([]);
  });

  it('a paid booking: nothing more to pay', async () => {
    const held = await hold();
    await visit(await approve(held.orderId));
    const res = await follow(held.paymentUrl);
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ state: 'confirmed', booking: { status: 'CONFIRMED' } });
  });

  it('an altered reference is refused and changes nothing', async () => {
    const { booking } = await book();
    const res = await follow(booking.paymentUrl.replace(/ref=[^&]+/, `ref=${booking.id}.${'A'.repeat(32)}`));
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('VALIDATION_FAILED');
    expect(sim.orders().filter((o) => o.customId === booking.id)).toEqual([]);
  });
});

/** The bearer token of the buyer who made a booking (makeBuyers mints them; this mints another). */
async function tokenOf(booking: { userId: string }): Promise<string> {
  return server.deps.tokens.signAccess({ id: booking.userId, role: 'user' });
}

describe('PayPal failing', () => {
  it('order creation failing when the buyer goes to pay: 502, the hold stays, trying again works', async () => {
    const { eventId, booking } = await (async () => {
      const id = await seedEvent(server, { capacity: 5 });
      const [buyer] = await makeBuyers(server, 1);
      const res = await server.http('POST', `/api/events/${id}/book`, { token: buyer!.token, body: { quantity: 2 } });
      expect(res.status).toBe(200);
      return { eventId: id, booking: res.body };
    })();
    sim.failNext('createOrder', { times: 10 });
    const page = await fetch(booking.paymentUrl, { redirect: 'manual' });
    expect(page.status).toBe(502);
    expect(await page.text()).toContain('PayPal is not answering');
    const direct = await server.http('POST', `/api/bookings/${booking.id}/payment`, { token: await tokenOf(booking) });
    expect(direct.status).toBe(502);
    expect(direct.body.error.code).toBe('PAYMENT_PROVIDER_ERROR');
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 3, held: 2 });
    sim.reset();
    expect(await approvalUrlOf(booking)).toMatch(/\/paypal-sim\/checkoutnow\?token=/);
  });

  it('a timed-out create retried with the same request id links the booking to one order (P2)', async () => {
    sim.hangNext('createOrder', { ms: 1500, when: 'after' });
    const held = await hold();
    expect(sim.orders().filter((o) => o.customId === held.bookingId)).toHaveLength(1);
    const creates = sim.requests().filter((r) => r.operation === 'createOrder');
    expect(creates.length).toBeGreaterThanOrEqual(2);
    expect(new Set(creates.map((r) => r.requestId))).toEqual(new Set([`create:${held.bookingId}`]));
  });
});
