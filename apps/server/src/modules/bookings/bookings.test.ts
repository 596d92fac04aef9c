import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectBalanced, makeBuyers, seedEvent, ticketCounts } from '../../test/fixtures.ts';
import { signInAdmin, startTestServer, type TestServer } from '../../test/harness.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const book = (
  token: string,
  eventId: string,
  body: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) => server.http('POST', `/api/events/${eventId}/book`, { token, body, headers });

describe('booking rules, each with its own code', () => {
  it('holds tickets: available → held, booking HELD with an expiry and the server-side price', async () => {
    const eventId = await seedEvent(server, { capacity: 10, priceMinor: 1999 });
    const [buyer] = await makeBuyers(server, 1);
    const res = await book(buyer!.token, eventId, { quantity: 3 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'HELD',
      quantity: 3,
      unitPriceMinor: 1999,
      totalMinor: 5997,
      currency: 'EUR',
    });
    const ttl = new Date(res.body.holdExpiresAt).getTime() - new Date(res.body.createdAt).getTime();
    expect(ttl).toBe(15 * 60_000);
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 7, held: 3, sold: 0 });
  });

  it('quantity defaults to 1; ?ticket_quantity=N is accepted as the earlier service sent it', async () => {
    const eventId = await seedEvent(server, { capacity: 10 });
    const [a, b] = await makeBuyers(server, 2);
    expect((await book(a!.token, eventId)).body.quantity).toBe(1);
    const legacy = await server.http('POST', `/api/events/${eventId}/book?ticket_quantity=4`, { token: b!.token });
    expect(legacy).toMatchObject({ status: 200, body: { quantity: 4 } });
    for (const [query, body] of [
      ['abc', undefined],
      ['2', { quantity: 3 }],
    ] as const) {
      const [c] = await makeBuyers(server, 1);
      const bad = await server.http('POST', `/api/events/${eventId}/book?ticket_quantity=${query}`, {
        token: c!.token,
        ...(body ? { body } : {}),
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error.details.issues[0].path).toBe('ticket_quantity');
    }
    await expectBalanced(server, eventId);
  });

  it.each([[0], [-2], [1.5]])('INVALID_QUANTITY (400) for quantity %s', async (quantity) => {
    const eventId = await seedEvent(server);
    const [buyer] = await makeBuyers(server, 1);
    const res = await book(buyer!.token, eventId, { quantity });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_QUANTITY', details: { field: 'quantity' } });
  });

  it('EVENT_NOT_FOUND (404)', async () => {
    const [buyer] = await makeBuyers(server, 1);
    const res = await book(buyer!.token, randomUUID());
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('EVENT_NOT_FOUND');
  });

  it.each(['draft', 'cancelled'] as const)('EVENT_NOT_ON_SALE (409) for a %s event', async (status) => {
    const eventId = await seedEvent(server, { status });
    const [buyer] = await makeBuyers(server, 1);
    const res = await book(buyer!.token, eventId);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('EVENT_NOT_ON_SALE');
  });

  it('EVENT_PAST (410)', async () => {
    const eventId = await seedEvent(server, { startsAt: new Date(Date.now() - 3_600_000) });
    const [buyer] = await makeBuyers(server, 1);
    const res = await book(buyer!.token, eventId);
    expect(res.status).toBe(410);
    expect(res.body.error.code).toBe('EVENT_PAST');
  });

  it('HOLD_ALREADY_OPEN (409) across events', async () => {
    const first = await seedEvent(server);
    const second = await seedEvent(server);
    const [buyer] = await makeBuyers(server, 1);
    expect((await book(buyer!.token, first)).status).toBe(200);
    const res = await book(buyer!.token, second);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('HOLD_ALREADY_OPEN');
    expect(await ticketCounts(server, second)).toMatchObject({ available: 100, held: 0 });
  });

  it('SOLD_OUT (409) says how many are left', async () => {
    const eventId = await seedEvent(server, { capacity: 3 });
    const [a, b] = await makeBuyers(server, 2);
    await book(a!.token, eventId, { quantity: 2 });
    const res = await book(b!.token, eventId, { quantity: 2 });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'SOLD_OUT', details: { available: 1 } });
  });

  it('LIMIT_EXCEEDED (409) per order and per user per event', async () => {
    const eventId = await seedEvent(server, { maxPerOrder: 4, maxPerUser: 5 });
    const [buyer] = await makeBuyers(server, 1);
    const perOrder = await book(buyer!.token, eventId, { quantity: 5 });
    expect(perOrder.status).toBe(409);
    expect(perOrder.body.error).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { limit: 'per_order', max: 4 } });

    const first = await book(buyer!.token, eventId, { quantity: 4 });
    // pretend it was paid, so the user may hold again
    await server.sql(
      "UPDATE bookings SET status = 'CONFIRMED', confirmed_at = now() WHERE id = ?; UPDATE events SET held = held - 4, sold = sold + 4 WHERE id = ?",
      [first.body.id, eventId],
    );
    const [rival] = await makeBuyers(server, 1);
    // an open hold is named before the per-user limit, as the rules are ordered
    expect((await book(rival!.token, eventId, { quantity: 4 })).status).toBe(200);
    expect((await book(rival!.token, eventId, { quantity: 2 })).body.error.code).toBe('HOLD_ALREADY_OPEN');
    const perUser = await book(buyer!.token, eventId, { quantity: 2 });
    expect(perUser.status).toBe(409);
    expect(perUser.body.error).toMatchObject({
      code: 'LIMIT_EXCEEDED',
      details: { limit: 'per_user', max: 5, owned: 4 },
    });
    expect((await book(buyer!.token, eventId, { quantity: 1 })).status).toBe(200);
    await expectBalanced(server, eventId);
  });

  it('rejects client-sent price, status or user with 400 and writes nothing', async () => {
    const eventId = await seedEvent(server);
    const [buyer] = await makeBuyers(server, 1);
    for (const extra of [{ unitPriceMinor: 1 }, { status: 'CONFIRMED' }, { userId: randomUUID() }, { totalMinor: 0 }]) {
      const res = await book(buyer!.token, eventId, { quantity: 1, ...extra });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    expect(await ticketCounts(server, eventId)).toMatchObject({ available: 100, held: 0 });
  });

  it('requires a signed-in user', async () => {
    const eventId = await seedEvent(server);
    const res = await server.http('POST', `/api/events/${eventId}/book`, { body: {} });
    expect(res.status).toBe(401);
  });
});

describe('free events (price 0): confirmed at once, no payment, the same rules', () => {
  it('books and confirms without PayPal: available → sold, no payment link, no PayPal order', async () => {
    const eventId = await seedEvent(server, { capacity: 10, priceMinor: 0 });
    const [buyer] = await makeBuyers(server, 1);
    const res = await book(buyer!.token, eventId, { quantity: 2 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'CONFIRMED', quantity: 2, totalMinor: 0, paymentUrl: null });
    expect(res.body.confirmedAt).not.toBeNull();
    const [row] = await server.sql('SELECT paypal_order_id, payment_url FROM bookings WHERE id = ?', [res.body.id]);
    expect(row).toEqual({ paypal_order_id: null, payment_url: null });
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 8, held: 0, sold: 2 });
    // nothing is left open: the buyer can hold tickets for a paid event right away
    const paid = await seedEvent(server, { capacity: 10 });
    expect((await book(buyer!.token, paid, { quantity: 1 })).body.status).toBe('HELD');
  });

  it('keeps the per-order and per-user limits and sells out like a paid event', async () => {
    const eventId = await seedEvent(server, { capacity: 4, priceMinor: 0, maxPerOrder: 2, maxPerUser: 3 });
    const [a, b] = await makeBuyers(server, 2);
    const perOrder = await book(a!.token, eventId, { quantity: 3 });
    expect(perOrder.status).toBe(409);
    expect(perOrder.body.error).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { limit: 'per_order', max: 2 } });
    expect((await book(a!.token, eventId, { quantity: 2 })).status).toBe(200);
    const perUser = await book(a!.token, eventId, { quantity: 2 });
    expect(perUser.body.error).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { limit: 'per_user', owned: 2 } });
    expect((await book(b!.token, eventId, { quantity: 2 })).status).toBe(200);
    const soldOut = await book(a!.token, eventId, { quantity: 1 });
    expect(soldOut.status).toBe(409);
    expect(soldOut.body.error.code).toBe('SOLD_OUT');
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 0, held: 0, sold: 4 });
  });

  it('a confirmed free booking is not cancellable as a hold, and a retry with the same key is the same booking', async () => {
    const eventId = await seedEvent(server, { capacity: 5, priceMinor: 0 });
    const [buyer] = await makeBuyers(server, 1);
    const key = { 'Idempotency-Key': `free-${randomUUID()}` };
    const first = await book(buyer!.token, eventId, { quantity: 1 }, key);
    const again = await book(buyer!.token, eventId, { quantity: 1 }, key);
    expect(again.body.id).toBe(first.body.id);
    const cancel = await server.http('POST', `/api/bookings/${first.body.id}/cancel`, { token: buyer!.token });
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe('BOOKING_NOT_CANCELLABLE');
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 4, sold: 1 });
  });
});

describe('reading and cancelling', () => {
  it("another user's booking is 404 for get and cancel, and nothing changes", async () => {
    const eventId = await seedEvent(server, { capacity: 5 });
    const [owner, other] = await makeBuyers(server, 2);
    const held = await book(owner!.token, eventId, { quantity: 2 });
    const peek = await server.http('GET', `/api/bookings/${held.body.id}`, { token: other!.token });
    expect(peek.status).toBe(404);
    expect(peek.body.error.code).toBe('BOOKING_NOT_FOUND');
    expect(JSON.stringify(peek.body)).not.toContain(owner!.id);
    const cancel = await server.http('POST', `/api/bookings/${held.body.id}/cancel`, { token: other!.token });
    expect(cancel.status).toBe(404);
    expect(await ticketCounts(server, eventId)).toMatchObject({ available: 3, held: 2 });
    const mine = await server.http('GET', `/api/bookings/${held.body.id}`, { token: owner!.token });
    expect(mine.body.status).toBe('HELD');
  });

  it('the owner cancels a hold once: tickets go back; a second cancel is 409', async () => {
    const eventId = await seedEvent(server, { capacity: 5 });
    const [owner] = await makeBuyers(server, 1);
    const held = await book(owner!.token, eventId, { quantity: 2 });
    // many clients send a JSON content type with an empty body
    const cancel = await server.http('POST', `/api/bookings/${held.body.id}/cancel`, {
      token: owner!.token,
      headers: { 'content-type': 'application/json' },
    });
    expect(cancel).toMatchObject({ status: 200, body: { status: 'CANCELLED' } });
    const again = await server.http('POST', `/api/bookings/${held.body.id}/cancel`, { token: owner!.token });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('BOOKING_NOT_CANCELLABLE');
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 5, held: 0 });
  });

  it('lists my bookings newest first with a cursor; admins list everything with filters', async () => {
    const [buyer] = await makeBuyers(server, 1);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const eventId = await seedEvent(server);
      const res = await book(buyer!.token, eventId);
      ids.push(res.body.id);
      await server.http('POST', `/api/bookings/${res.body.id}/cancel`, { token: buyer!.token });
    }
    const page1 = await server.http('GET', '/api/bookings?limit=2', { token: buyer!.token });
    expect(page1.body.items.map((b: { id: string }) => b.id)).toEqual([ids[2], ids[1]]);
    const page2 = await server.http('GET', `/api/bookings?limit=2&cursor=${page1.body.nextCursor}`, {
      token: buyer!.token,
    });
    expect(page2.body).toMatchObject({ items: [{ id: ids[0] }], nextCursor: null });
    expect((await server.http('GET', '/api/bookings?cursor=garbage', { token: buyer!.token })).body.error.code).toBe(
      'INVALID_CURSOR',
    );
    expect((await server.http('GET', '/api/bookings?limit=101', { token: buyer!.token })).status).toBe(400);

    const forbidden = await server.http('GET', '/api/admin/bookings', { token: buyer!.token });
    expect(forbidden.status).toBe(403);
    const admin = await signInAdmin(server);
    const all = await server.http('GET', `/api/admin/bookings?userId=${buyer!.id}&status=CANCELLED`, {
      token: admin.accessToken,
    });
    expect(all.body.items).toHaveLength(3);
  });
});

describe('idempotency', () => {
  it('a retry with the same key returns the first booking; different input is 422', async () => {
    const eventId = await seedEvent(server, { capacity: 10 });
    const [buyer] = await makeBuyers(server, 1);
    const key = { 'Idempotency-Key': `key-${randomUUID()}` };
    const first = await book(buyer!.token, eventId, { quantity: 2 }, key);
    const retry = await book(buyer!.token, eventId, { quantity: 2 }, key);
    expect(first.status).toBe(200);
    expect(retry).toMatchObject({ status: 200, body: { id: first.body.id } });
    const changed = await book(buyer!.token, eventId, { quantity: 3 }, key);
    expect(changed.status).toBe(422);
    expect(changed.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await expectBalanced(server, eventId)).toMatchObject({ held: 2 });
  });

  it('a malformed Idempotency-Key header is 400, not a stored key', async () => {
    const eventId = await seedEvent(server, { capacity: 10 });
    const [buyer] = await makeBuyers(server, 1);
    for (const key of ['x', 'k'.repeat(12_000), 'has spaces in it']) {
      const res = await book(buyer!.token, eventId, { quantity: 1 }, { 'Idempotency-Key': key });
      expect(res.status).toBe(400);
      expect(res.body.error.details.issues[0].path).toBe('Idempotency-Key');
    }
    expect(await ticketCounts(server, eventId)).toMatchObject({ held: 0 });
  });

  it('concurrent duplicates make one booking; the others get it or 409 in flight', async () => {
    const eventId = await seedEvent(server, { capacity: 10 });
    const [buyer] = await makeBuyers(server, 1);
    const key = { 'Idempotency-Key': `key-${randomUUID()}` };
    const results = await Promise.all(
      Array.from({ length: 8 }, () => book(buyer!.token, eventId, { quantity: 1 }, key)),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ok.map((r) => r.body.id)).size).toBe(1);
    for (const r of results.filter((r) => r.status !== 200)) expect(r.body.error.code).toBe('IDEMPOTENCY_IN_FLIGHT');
    const rows = await server.sql('SELECT count(*)::int AS n FROM bookings WHERE user_id = ?', [buyer!.id]);
    expect(rows[0]?.n).toBe(1);
  });

  it('works over tRPC with the key as an input field', async () => {
    const eventId = await seedEvent(server, { capacity: 10 });
    const [buyer] = await makeBuyers(server, 1);
    const input = { eventId, quantity: 1, idempotencyKey: `trpc-${randomUUID()}` };
    const a = await server.http('POST', '/trpc/bookings.create', { token: buyer!.token, body: input });
    const b = await server.http('POST', '/trpc/bookings.create', { token: buyer!.token, body: input });
    expect(a.body.result.data.id).toBe(b.body.result.data.id);
  });
});

describe('payments started per buyer are limited', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer({ env: { RATE_LIMIT_PAYMENTS_PER_USER_PER_HOUR: '3' } });
  });
  afterAll(() => limited?.close());

  it('holding, paying and cancelling in a loop stops at the limit: 429 where the order is made, none made', async () => {
    const eventId = await seedEvent(limited, { capacity: 10 });
    const [buyer] = await makeBuyers(limited, 1);
    const hold = () =>
      limited.http('POST', `/api/events/${eventId}/book`, { token: buyer!.token, body: { quantity: 1 } });
    const pay = (bookingId: string) =>
      limited.http('POST', `/api/bookings/${bookingId}/payment`, { token: buyer!.token });
    for (let i = 0; i < 3; i++) {
      const res = await hold();
      expect(res.status).toBe(200);
      expect((await pay(res.body.id)).status).toBe(200);
      expect((await limited.http('POST', `/api/bookings/${res.body.id}/cancel`, { token: buyer!.token })).status).toBe(
        200,
      );
    }
    // holding costs no PayPal order, so it is not limited; the fourth order is
    const fourth = await hold();
    expect(fourth.status).toBe(200);
    const refused = await pay(fourth.body.id);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('RATE_LIMITED');
    expect(refused.headers.get('retry-after')).toBeTruthy();
    // following the payment link creates the order the same way, so it is limited the same way
    const link = await fetch(fourth.body.paymentUrl, { redirect: 'manual', headers: { accept: 'application/json' } });
    expect(link.status).toBe(429);
    const [orders] = await limited.sql<{ n: number }>(
      'SELECT count(*)::int AS n FROM bookings WHERE user_id = ? AND paypal_order_id IS NOT NULL',
      [buyer!.id],
    );
    expect(orders?.n).toBe(3);
    expect(await expectBalanced(limited, eventId)).toMatchObject({ available: 9, held: 1 });
    // another buyer is not affected
    const [other] = await makeBuyers(limited, 1);
    const theirs = await limited.http('POST', `/api/events/${eventId}/book`, { token: other!.token, body: {} });
    expect(theirs.status).toBe(200);
    expect(
      (await limited.http('POST', `/api/bookings/${theirs.body.id}/payment`, { token: other!.token })).status,
    ).toBe(200);
  });
});
