import { randomUUID } from 'node:crypto';
import type { PayPalSimulatorControls } from '@boxoffice/paypal-simulator';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../lib/clock.ts';
import { expectBalanced, makeBuyers, pressPayPalButton, seedEvent, ticketCounts } from '../test/fixtures.ts';
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

type Held = { bookingId: string; orderId: string; eventId: string; token: string; paymentUrl: string };

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
  const [row] = await server.sql<{ paypal_order_id: string }>('SELECT paypal_order_id FROM bookings WHERE id = ?', [
    res.body.id,
  ]);
  return {
    bookingId: res.body.id,
    orderId: row!.paypal_order_id,
    eventId,
    token: buyer!.token,
    paymentUrl: res.body.paymentUrl,
  };
}

const approve = (orderId: string) => pressPayPalButton(server, orderId, 'approve');
const cancelAtPayPal = (orderId: string) => pressPayPalButton(server, orderId, 'cancel');

const visit = (url: string) => server.http('GET', url.replace(server.url, ''));
const status = async (bookingId: string) =>
  (await server.sql<{ status: string }>('SELECT status FROM bookings WHERE id = ?', [bookingId]))[0]?.status;

describe('checkout through the return URL', () => {
  it('booking answers a PayPal approval URL; the amount is computed on the server (P1)', async () => {
    const held = await hold({ quantity: 3, priceMinor: 1250 });
    expect(held.paymentUrl).toMatch(/\/paypal-sim\/checkoutnow\?token=/);
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
    const firstOrder = sim.order(new URL(first.body.paymentUrl).searchParams.get('token') as string)!;
    const lateReturn = await approve(firstOrder.id);
    clock.advance(16 * 60_000);
    const second = await server.http('POST', `/api/events/${eventId}/book`, {
      token: buyer!.token,
      body: { quantity: 4 },
    });
    expect(second.status).toBe(200);
    const secondOrder = new URL(second.body.paymentUrl).searchParams.get('token') as string;
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

describe('PayPal failing', () => {
  it('order creation failing releases the hold and answers 502 PAYMENT_PROVIDER_ERROR', async () => {
    const eventId = await seedEvent(server, { capacity: 5 });
    const [buyer] = await makeBuyers(server, 1);
    sim.failNext('createOrder', { times: 10 });
    const res = await server.http('POST', `/api/events/${eventId}/book`, {
      token: buyer!.token,
      body: { quantity: 2 },
    });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('PAYMENT_PROVIDER_ERROR');
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 5, held: 0 });
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
