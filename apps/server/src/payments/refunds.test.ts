import type { PayPalSimulatorControls } from '@boxoffice/paypal-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../lib/clock.ts';
import { expectBalanced, makeBuyers, pressPayPalButton, seedEvent, ticketCounts } from '../test/fixtures.ts';
import { signInAdmin, signUp, startTestServer, type TestServer } from '../test/harness.ts';
import { bookingStatus, expectMoneyAndTicketsAgree, ledgerOf, paidHold } from '../test/money.ts';
import { reconcilePayments } from './reconcile.ts';

// Admin refunds and event cancellation over REST and tRPC, against the simulator over HTTP; jobs
// (the refunds the cancellation schedules, retries) run where a test calls runDue().
const clock = manualClock(new Date('2026-12-01T10:00:00Z'));
let server: TestServer;
let sim: PayPalSimulatorControls;
let admin: string;
beforeAll(async () => {
  server = await startTestServer({
    clock,
    pollJobs: false,
    env: { PAYPAL_TIMEOUT_MS: '1000', ACCESS_TOKEN_EXPIRE_MINUTES: '1440' },
  });
  sim = server.deps.paypalSimulator!.controls;
  admin = (await signInAdmin(server)).accessToken;
});
afterAll(() => server?.close());

const visit = (url: string) => server.http('GET', url.replace(server.url, ''));

/** A booking paid through PayPal: hold, approve, return visit. */
async function confirmed(opts: { eventId?: string; quantity?: number } = {}) {
  const held = await paidHold(server, opts);
  const back = await pressPayPalButton(server, held.orderId, 'approve');
  const res = await visit(back);
  expect(res.body.state).toBe('confirmed');
  const captureId = sim.order(held.orderId)!.captures[0]!.id;
  return { ...held, captureId };
}

const refund = (bookingId: string, token = admin, reason = 'Customer asked') =>
  server.http('POST', `/api/bookings/${bookingId}/refund`, { token, body: { reason } });
const refundsAtPayPal = (captureId: string) => sim.capture(captureId)?.refunds ?? [];
const refundCalls = (captureId: string) =>
  sim.requests().filter((r) => r.operation === 'refundCapture' && r.url.includes(captureId));

async function letJobsRun(minutes: number) {
  for (let i = 0; i < minutes; i++) {
    clock.advance(60_000);
    await server.worker.runDue();
  }
}

describe('bookings.refund (admin)', () => {
  it('refunds in full: booking REFUNDED, tickets back on sale, the refund in the payments ledger', async () => {
    const paid = await confirmed({ quantity: 3 });
    expect(await expectBalanced(server, paid.eventId)).toMatchObject({ sold: 3 });
    const res = await refund(paid.bookingId);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      booking: { id: paid.bookingId, status: 'REFUNDED', refundedAt: expect.any(String) },
      refund: {
        status: 'completed',
        source: 'admin',
        reason: 'Customer asked',
        amountMinor: 7500,
        currency: 'EUR',
        attempts: 1,
      },
    });
    expect(await ledgerOf(server, paid.bookingId)).toEqual([
      { kind: 'capture', status: 'COMPLETED', amount_minor: 7500 },
      { kind: 'refund', status: 'COMPLETED', amount_minor: 7500 },
    ]);
    expect(refundsAtPayPal(paid.captureId)).toMatchObject([{ status: 'COMPLETED', amount: { value: '75.00' } }]);
    expect(refundCalls(paid.captureId).map((r) => r.requestId)).toEqual([`refund:${paid.bookingId}`]);
    expect(await ticketCounts(server, paid.eventId)).toMatchObject({ sold: 0, available: 10 });
    // the buyer sees it
    const mine = await server.http('GET', `/api/bookings/${paid.bookingId}`, { token: paid.token });
    expect(mine.body.status).toBe('REFUNDED');
  });

  it('two concurrent refunds (REST and tRPC) make one PayPal refund and return the tickets once (P9)', async () => {
    const paid = await confirmed({ quantity: 2 });
    const [viaRest, viaTrpc] = await Promise.all([
      refund(paid.bookingId),
      server.http('POST', '/trpc/bookings.refund', {
        token: admin,
        body: { bookingId: paid.bookingId, reason: 'Duplicate click' },
      }),
    ]);
    const outcomes = [viaRest.status, viaTrpc.status].sort();
    // both succeed (one joined the other), or the later one finds it refunded already
    expect([
      [200, 200],
      [200, 409],
    ]).toContainEqual(outcomes);
    expect(refundsAtPayPal(paid.captureId)).toHaveLength(1);
    expect(await ledgerOf(server, paid.bookingId)).toEqual([
      { kind: 'capture', status: 'COMPLETED', amount_minor: 5000 },
      { kind: 'refund', status: 'COMPLETED', amount_minor: 5000 },
    ]);
    expect(await expectBalanced(server, paid.eventId)).toMatchObject({ sold: 0, available: 10, held: 0 });
    const [request] = await server.sql<{ n: number }>(
      'SELECT count(*)::int AS n FROM refund_requests WHERE booking_id = ?',
      [paid.bookingId],
    );
    expect(request?.n).toBe(1);
  });

  it('a plain user (the buyer included) gets 403; a HELD or already REFUNDED booking a 409 with its own code', async () => {
    const paid = await confirmed();
    const user = await signUp(server);
    for (const token of [user.accessToken, paid.token]) {
      const res = await refund(paid.bookingId, token);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    }
    const held = await paidHold(server);
    const onHold = await refund(held.bookingId);
    expect(onHold.status).toBe(409);
    expect(onHold.body.error).toMatchObject({ code: 'BOOKING_NOT_REFUNDABLE', details: { status: 'HELD' } });
    expect((await refund(paid.bookingId)).status).toBe(200);
    const again = await refund(paid.bookingId);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('BOOKING_ALREADY_REFUNDED');
    expect(refundsAtPayPal(paid.captureId)).toHaveLength(1);
    const missing = await refund('00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    expect((await refund(paid.bookingId, admin, '')).status).toBe(400);
  });

  it('a refund PayPal fails outright is shown as failed, retried under a new request id, and recorded once when it succeeds', async () => {
    const paid = await confirmed();
    sim.queueRefund({ captureId: paid.captureId, status: 'FAILED' });
    const res = await refund(paid.bookingId);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      booking: { status: 'CONFIRMED' },
      refund: { status: 'failed', lastError: expect.any(String) },
    });
    const listed = await server.http('GET', `/api/admin/bookings?eventId=${paid.eventId}`, { token: admin });
    expect(listed.body.items[0]).toMatchObject({ id: paid.bookingId, refund: { status: 'failed' } });
    expect(await ticketCounts(server, paid.eventId)).toMatchObject({ sold: 2 });

    await letJobsRun(2); // the job that follows the request tries again
    expect(await bookingStatus(server, paid.bookingId)).toBe('REFUNDED');
    expect(refundCalls(paid.captureId).map((r) => r.requestId)).toEqual([
      `refund:${paid.bookingId}`,
      `refund:${paid.bookingId}:2`,
    ]);
    expect(await ledgerOf(server, paid.bookingId)).toEqual([
      { kind: 'capture', status: 'COMPLETED', amount_minor: 5000 },
      { kind: 'refund', status: 'COMPLETED', amount_minor: 5000 },
      { kind: 'refund', status: 'FAILED', amount_minor: 5000 },
    ]);
    expect(refundsAtPayPal(paid.captureId).filter((r) => r.status === 'COMPLETED')).toHaveLength(1);
    const after = await server.http('GET', `/api/admin/bookings?eventId=${paid.eventId}`, { token: admin });
    expect(after.body.items[0]).toMatchObject({
      status: 'REFUNDED',
      refund: { status: 'completed', attempts: 2, lastError: null },
      payments: [
        { kind: 'capture', status: 'COMPLETED', amountMinor: 5000 },
        expect.objectContaining({ kind: 'refund' }),
        expect.objectContaining({ kind: 'refund' }),
      ],
    });
    expect(await expectBalanced(server, paid.eventId)).toMatchObject({ sold: 0 });
  });

  it('a refund after the event started gives the money back and keeps the tickets counted as sold', async () => {
    const eventId = await seedEvent(server, { capacity: 10, startsAt: new Date(clock.now().getTime() + 3_600_000) });
    const paid = await confirmed({ eventId });
    clock.advance(2 * 3_600_000); // the event has started
    expect((await refund(paid.bookingId)).body.booking.status).toBe('REFUNDED');
    expect(await ticketCounts(server, eventId)).toMatchObject({ sold: 2, available: 8, held: 0 });
    expect(refundsAtPayPal(paid.captureId)).toHaveLength(1);
  });
});

describe('cancelling an event pays every buyer back', () => {
  it('20 confirmed and 5 held: all end REFUNDED or CANCELLED, 20 refunds at PayPal, counts balance; cancelling again changes nothing', async () => {
    const eventId = await seedEvent(server, { capacity: 100, priceMinor: 1500 });
    const buyers = await makeBuyers(server, 25);
    const paid = [];
    for (const buyer of buyers.slice(0, 20)) {
      const held = await paidHold(server, { eventId, buyer, quantity: 2 });
      const back = await pressPayPalButton(server, held.orderId, 'approve');
      expect((await visit(back)).body.state).toBe('confirmed');
      paid.push(held);
    }
    const holds = [];
    for (const buyer of buyers.slice(20)) holds.push(await paidHold(server, { eventId, buyer, quantity: 1 }));
    expect(await expectBalanced(server, eventId)).toMatchObject({ sold: 40, held: 5, available: 55 });

    const cancel = await server.http('POST', `/api/events/${eventId}/cancel`, { token: admin });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ id: eventId, status: 'cancelled', refundsDue: 20, held: 0 });
    const early = await server.http('GET', `/api/events/${eventId}/refunds`, { token: admin });
    expect(early.body).toEqual({ eventId, refunds: 20, refunded: 0, pending: 20, failed: 0 });

    await server.worker.runDue();
    const statuses = await server.sql<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM bookings WHERE event_id = ? GROUP BY status ORDER BY status',
      [eventId],
    );
    expect(statuses).toEqual([
      { status: 'CANCELLED', n: 5 },
      { status: 'REFUNDED', n: 20 },
    ]);
    const orders = paid.map((held) => sim.order(held.orderId)!);
    expect(orders.flatMap((order) => order.captures.flatMap((c) => c.refunds))).toHaveLength(20);
    expect(orders.every((order) => order.captures[0]?.status === 'REFUNDED')).toBe(true);
    expect(await ticketCounts(server, eventId)).toEqual({ capacity: 100, available: 100, held: 0, sold: 0 });
    const progress = await server.http('GET', `/api/events/${eventId}/refunds`, { token: admin });
    expect(progress.body).toEqual({ eventId, refunds: 20, refunded: 20, pending: 0, failed: 0 });
    // buyers see it
    expect(
      (await server.http('GET', `/api/bookings/${paid[0]!.bookingId}`, { token: paid[0]!.token })).body.status,
    ).toBe('REFUNDED');
    // admins see each booking with its capture and refund
    const list = await server.http('GET', `/api/admin/bookings?eventId=${eventId}&status=REFUNDED&limit=50`, {
      token: admin,
    });
    expect(list.body.items).toHaveLength(20);
    for (const item of list.body.items)
      expect(item).toMatchObject({
        status: 'REFUNDED',
        refund: { status: 'completed', source: 'event_cancelled' },
        payments: [
          { kind: 'capture', status: 'COMPLETED', amountMinor: 3000 },
          { kind: 'refund', status: 'COMPLETED', amountMinor: 3000 },
        ],
      });

    const refundsBefore = sim.counts().refundCapture;
    const again = await server.http('POST', `/api/events/${eventId}/cancel`, { token: admin });
    expect(again.body).toMatchObject({ status: 'cancelled', refundsDue: 0 });
    await letJobsRun(2);
    expect(sim.counts().refundCapture).toBe(refundsBefore);
    expect(await ticketCounts(server, eventId)).toEqual({ capacity: 100, available: 100, held: 0, sold: 0 });
  });

  it('a free event’s confirmed bookings are refunded with no money to move', async () => {
    const eventId = await seedEvent(server, { capacity: 5, priceMinor: 0 });
    const [buyer] = await makeBuyers(server, 1);
    const booked = await server.http('POST', `/api/events/${eventId}/book`, {
      token: buyer!.token,
      body: { quantity: 2 },
    });
    expect(booked.body.status).toBe('CONFIRMED');
    const calls = sim.counts().refundCapture;
    expect((await server.http('POST', `/api/events/${eventId}/cancel`, { token: admin })).body.refundsDue).toBe(1);
    await server.worker.runDue();
    expect(await bookingStatus(server, booked.body.id)).toBe('REFUNDED');
    expect(sim.counts().refundCapture).toBe(calls);
    expect(await ticketCounts(server, eventId)).toMatchObject({ available: 5, sold: 0 });
  });
});

describe('the admin bookings list', () => {
  it('shows every status, filters by event and status, and each booking’s captures and refunds', async () => {
    const eventId = await seedEvent(server, { capacity: 20 });
    const kept = await confirmed({ eventId });
    const back = await confirmed({ eventId });
    await refund(back.bookingId);
    const open = await paidHold(server, { eventId });
    const all = await server.http('GET', `/api/admin/bookings?eventId=${eventId}`, { token: admin });
    expect(all.status).toBe(200);
    // the test clock stands still, so all three were made at one instant: compared as a set
    type Item = { id: string; status: string; payments: { kind: string; providerRef: string }[]; refund: unknown };
    const byId = new Map<string, Item>(all.body.items.map((item: Item) => [item.id, item]));
    expect(new Map([...byId].map(([id, item]) => [id, item.status]))).toEqual(
      new Map([
        [open.bookingId, 'HELD'],
        [back.bookingId, 'REFUNDED'],
        [kept.bookingId, 'CONFIRMED'],
      ]),
    );
    expect(byId.get(open.bookingId)).toMatchObject({ payments: [], refund: null });
    expect(byId.get(kept.bookingId)).toMatchObject({
      payments: [{ kind: 'capture', providerRef: kept.captureId }],
      refund: null,
    });
    expect(byId.get(back.bookingId)).toMatchObject({
      payments: [{ kind: 'capture' }, { kind: 'refund' }],
      refund: { status: 'completed' },
    });
    const onlyRefunded = await server.http('GET', `/api/admin/bookings?eventId=${eventId}&status=REFUNDED`, {
      token: admin,
    });
    expect(onlyRefunded.body.items.map((item: { id: string }) => item.id)).toEqual([back.bookingId]);
    const viaTrpc = await server.http(
      'GET',
      `/trpc/bookings.list?input=${encodeURIComponent(JSON.stringify({ eventId, status: 'CONFIRMED' }))}`,
      { token: admin },
    );
    expect(viaTrpc.body.result.data.items).toMatchObject([{ id: kept.bookingId, payments: [{ kind: 'capture' }] }]);
  });
});

describe('after all of the above', () => {
  it('money and tickets agree everywhere and reconciliation finds no mismatch', async () => {
    await letJobsRun(3);
    const seen = await expectMoneyAndTicketsAgree(server);
    expect(seen.refunded).toBeGreaterThan(20);
    const report = await reconcilePayments(server.deps.refunds, server.deps.orm.em.fork(), {
      sinceHours: 168,
      repair: false,
    });
    expect(report.unreachable).toBe(0);
    expect(report.mismatches).toEqual([]);
  });
});
