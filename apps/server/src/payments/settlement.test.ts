import type { PayPalSimulatorControls } from '@boxoffice/paypal-simulator';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../lib/clock.ts';
import { expectBalanced, makeBuyers, pressPayPalButton, seedEvent, startPayment } from '../test/fixtures.ts';
import { signInAdmin, startTestServer, type TestServer } from '../test/harness.ts';

// Money that PayPal took must end in tickets or in a refund, whatever fails in between. Jobs run
// only where a test calls runDue(), so each interleaving is exact.
const clock = manualClock(new Date('2026-12-01T10:00:00Z'));
let server: TestServer;
let sim: PayPalSimulatorControls;
beforeAll(async () => {
  server = await startTestServer({
    clock,
    pollJobs: false,
    env: { PAYPAL_TIMEOUT_MS: '500', ACCESS_TOKEN_EXPIRE_MINUTES: '1440' },
  });
  sim = server.deps.paypalSimulator!.controls;
});
afterAll(() => server?.close());
beforeEach(() => sim.reset());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function hold(quantity = 2) {
  const eventId = await seedEvent(server, { capacity: 10, priceMinor: 2500 });
  const [buyer] = await makeBuyers(server, 1);
  const res = await server.http('POST', `/api/events/${eventId}/book`, { token: buyer!.token, body: { quantity } });
  expect(res.status).toBe(200);
  const orderId = await startPayment(res.body);
  return { bookingId: res.body.id as string, orderId, eventId, token: buyer!.token };
}

const approve = (orderId: string) => pressPayPalButton(server, orderId, 'approve');

const visit = (url: string) => server.http('GET', url.replace(server.url, ''));
const statusOf = async (id: string) =>
  (await server.sql<{ status: string }>('SELECT status FROM bookings WHERE id = ?', [id]))[0]?.status;
const ledger = (id: string) =>
  server.sql<{ kind: string; status: string }>('SELECT kind, status FROM payments WHERE booking_id = ? ORDER BY kind', [
    id,
  ]);
const captureOf = (orderId: string) => sim.order(orderId)?.captures[0];

/** Lets time pass and the job worker catch up, as a running server would. */
async function letJobsRun(minutes: number) {
  for (let i = 0; i < minutes; i++) {
    clock.advance(60_000);
    await server.worker.runDue();
  }
}

describe('settlement when things fail in between', () => {
  it('a refund that fails inside the reconcile job is retried until it succeeds', async () => {
    const held = await hold();
    const back = await approve(held.orderId);
    sim.failNext('captureOrder', { when: 'after', times: 3 }); // captured at PayPal, answer lost
    expect((await visit(back)).body.state).toBe('unavailable');
    await server.http('POST', `/api/bookings/${held.bookingId}/cancel`, { token: held.token });
    sim.failNext('refundCapture', { times: 3 });
    await server.worker.runDue();
    expect(captureOf(held.orderId)?.status).toBe('COMPLETED');
    await letJobsRun(10);
    expect(captureOf(held.orderId)?.status).toBe('REFUNDED');
    expect(await statusOf(held.bookingId)).toBe('CANCELLED');
    expect(await ledger(held.bookingId)).toEqual([
      { kind: 'capture', status: 'COMPLETED' },
      { kind: 'refund', status: 'COMPLETED' },
    ]);
  });

  it('a PENDING capture is followed up: when PayPal completes it after the hold lapsed, the tickets are revived', async () => {
    const held = await hold();
    sim.queueCapture({ orderId: held.orderId, status: 'PENDING' });
    expect((await visit(await approve(held.orderId))).body.state).toBe('pending');
    await letJobsRun(16);
    expect(await statusOf(held.bookingId)).toBe('EXPIRED');
    sim.settleCapture(captureOf(held.orderId)!.id, 'COMPLETED');
    await letJobsRun(30);
    expect(await statusOf(held.bookingId)).toBe('CONFIRMED');
    expect(await expectBalanced(server, held.eventId)).toMatchObject({ sold: 2, held: 0 });
    expect(await ledger(held.bookingId)).toEqual([{ kind: 'capture', status: 'COMPLETED' }]);
  });

  it('a capture that lands after the release and its first reconcile is still found and refunded', async () => {
    const held = await hold();
    const back = await approve(held.orderId);
    const admin = await signInAdmin(server);
    // attempt 1 hangs at PayPal and captures late; the client's retries fail
    sim.hangNext('captureOrder', { ms: 1500, when: 'before' });
    sim.failNext('captureOrder', { times: 2, status: 503 });
    const visiting = visit(back);
    for (let i = 0; i < 100 && !sim.requests().some((r) => r.operation === 'captureOrder' && r.status === 0); i++)
      await sleep(10);
    expect((await server.http('POST', `/api/events/${held.eventId}/cancel`, { token: admin.accessToken })).status).toBe(
      200,
    );
    await server.worker.runDue(); // the release's reconcile: no capture yet
    expect((await visiting).body.state).toBe('unavailable');
    await sleep(1600); // the late capture happens at PayPal
    expect(captureOf(held.orderId)?.status).toBe('COMPLETED');
    await letJobsRun(10);
    expect(captureOf(held.orderId)?.status).toBe('REFUNDED');
    expect(await statusOf(held.bookingId)).toBe('CANCELLED');
    expect((await ledger(held.bookingId)).map((row) => row.kind)).toEqual(['capture', 'refund']);
  });

  it('a refund whose answer was lost still reaches the ledger', async () => {
    const held = await hold();
    const back = await approve(held.orderId);
    sim.failNext('captureOrder', { when: 'after', times: 3 });
    await visit(back);
    await server.http('POST', `/api/bookings/${held.bookingId}/cancel`, { token: held.token });
    sim.failNext('refundCapture', { when: 'after', times: 3 }); // refunded at PayPal, answer lost
    await letJobsRun(5);
    expect(captureOf(held.orderId)?.status).toBe('REFUNDED');
    expect(await ledger(held.bookingId)).toEqual([
      { kind: 'capture', status: 'COMPLETED' },
      { kind: 'refund', status: 'COMPLETED' },
    ]);
  });

  it('tells a buyer whose refund is still to come that it is on its way, not that nothing was charged', async () => {
    const held = await hold();
    const back = await approve(held.orderId);
    sim.failNext('captureOrder', { when: 'after', times: 3 });
    await visit(back);
    await server.http('POST', `/api/bookings/${held.bookingId}/cancel`, { token: held.token });
    sim.failNext('refundCapture', { times: 30 });
    const page = await fetch(back, { headers: { accept: 'text/html' } });
    const html = await page.text();
    expect(html).toContain('it is being refunded automatically');
    expect(html).not.toContain('You have not been charged');
  });
});

describe('our ledger outranks what PayPal forgets', () => {
  const alerts = async () => {
    const text = await server.deps.metrics.render();
    return Number(/boxoffice_payment_alerts_total\{kind="order_missing"\} (\d+)/.exec(text)?.[1] ?? 'NaN');
  };
  const reconcileJobs = async (bookingId: string) =>
    (
      await server.sql<{ n: number }>('SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE key = ?', [
        `reconcile-payment:${bookingId}`,
      ])
    )[0]?.n;

  it('money we recorded as captured is still followed when PayPal no longer knows the order', async () => {
    const held = await hold();
    const back = await approve(held.orderId);
    sim.failNext('captureOrder', { when: 'after', times: 3 }); // captured at PayPal, answer lost
    expect((await visit(back)).body.state).toBe('unavailable');
    const buyerToken = held.token;
    expect((await server.http('POST', `/api/bookings/${held.bookingId}/cancel`, { token: buyerToken })).status).toBe(
      200,
    );
    sim.failNext('refundCapture', { times: 3 });
    await server.worker.runDue(); // finds the capture, records it, the refund fails
    expect(await ledger(held.bookingId)).toEqual([{ kind: 'capture', status: 'COMPLETED' }]);
    const before = await alerts();

    sim.expireOrder(held.orderId); // PayPal (or a restarted offline PayPal) has lost the order
    await letJobsRun(10);
    // not settled: the job keeps following the money, and the alert counter says so
    expect(await reconcileJobs(held.bookingId)).toBe(1);
    expect(await alerts()).toBeGreaterThan(before);
    expect(await ledger(held.bookingId)).toEqual([{ kind: 'capture', status: 'COMPLETED' }]);
  });

  it('an order PayPal does not know, with no money on our books, is settled with nothing to do', async () => {
    const held = await hold();
    expect((await server.http('POST', `/api/bookings/${held.bookingId}/cancel`, { token: held.token })).status).toBe(
      200,
    );
    sim.expireOrder(held.orderId);
    const before = await alerts();
    await letJobsRun(3);
    expect(await reconcileJobs(held.bookingId)).toBe(0);
    expect(await alerts()).toBe(before);
  });

  it('a PENDING capture that PayPal declines later is recorded as DECLINED and the hold released', async () => {
    const held = await hold();
    sim.queueCapture({ orderId: held.orderId, status: 'PENDING' });
    expect((await visit(await approve(held.orderId))).body.state).toBe('pending');
    expect(await ledger(held.bookingId)).toEqual([{ kind: 'capture', status: 'PENDING' }]);
    sim.settleCapture(captureOf(held.orderId)!.id, 'DECLINED');
    await letJobsRun(6);
    expect(await ledger(held.bookingId)).toEqual([{ kind: 'capture', status: 'DECLINED' }]);
    expect(await statusOf(held.bookingId)).toBe('CANCELLED');
    expect(await expectBalanced(server, held.eventId)).toMatchObject({ held: 0, sold: 0 });
  });
});
