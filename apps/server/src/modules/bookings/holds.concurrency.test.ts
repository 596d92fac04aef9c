import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectBalanced, makeBuyers, seedEvent } from '../../test/fixtures.ts';
import { startTestServer, type TestServer } from '../../test/harness.ts';
import { createHoldQueue } from '../inventory/hold-queue.ts';

// These fail on a read-check-write implementation: concurrent buyers would all see the same
// `available` and oversell, or one user would slip two holds past a read-only check. They run with
// holds batched per event (the default) and with one transaction per hold.
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

describe.each([
  { way: 'batched per event', batching: 'true' },
  { way: 'one transaction per hold', batching: 'false' },
])('a hot on-sale, holds $way', ({ batching }) => {
  let server: TestServer;
  /** The sizes of the batches the server ran, while batching. */
  const batches: number[] = [];
  beforeAll(async () => {
    server = await startTestServer({ env: { HOLD_BATCHING: batching } });
    if (server.deps.bookings.holdQueue) {
      // the server's own queue, with an ear on its batches
      server.deps.bookings.holdQueue = createHoldQueue({
        fork: () => server.deps.orm.em.fork(),
        onBatch: (_eventId, size) => batches.push(size),
      });
    }
  });
  afterAll(() => server?.close());

  it('200 concurrent buyers of 1-4 tickets against 10: no oversell, losers get SOLD_OUT, counts balance', async () => {
    const eventId = await seedEvent(server, { capacity: 10, maxPerOrder: 4 });
    const buyers = await makeBuyers(server, 200);
    const results = await Promise.all(
      buyers.map((buyer, i) =>
        server.http('POST', `/api/events/${eventId}/book`, { token: buyer.token, body: { quantity: (i % 4) + 1 } }),
      ),
    );
    const winners = results.filter((r) => r.status === 200);
    const losers = results.filter((r) => r.status !== 200);
    const sold = winners.reduce((sum, r) => sum + r.body.quantity, 0);
    expect(sold).toBeLessThanOrEqual(10);
    expect(winners.length).toBeGreaterThan(0);
    for (const loser of losers) {
      expect(loser.status).toBe(409);
      expect(loser.body.error.code).toBe('SOLD_OUT');
    }
    const counts = await expectBalanced(server, eventId);
    expect(counts.held).toBe(sold);
    // whoever lost saw a true remainder: nothing left that fits their order
    expect(counts.available).toBeLessThan(4);
    if (batching === 'true') {
      // they did share transactions: fewer batches than requests, none larger than the requests
      expect(batches.reduce((sum, size) => sum + size, 0)).toBe(200);
      expect(batches.length).toBeLessThan(200);
    }
  });

  it('one buyer retrying one request 10 times at once with one idempotency key: one booking, one answer', async () => {
    const eventId = await seedEvent(server, { capacity: 10 });
    const [buyer, other] = await makeBuyers(server, 2);
    const key = { 'Idempotency-Key': `race-${randomUUID()}` };
    const book = (token: string, headers: Record<string, string> = {}) =>
      server.http('POST', `/api/events/${eventId}/book`, { token, body: { quantity: 2 }, headers });
    const [results] = await Promise.all([
      Promise.all(Array.from({ length: 10 }, () => book(buyer!.token, key))),
      book(other!.token),
    ]);
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ok.map((r) => r.body.id)).size).toBe(1);
    for (const r of results.filter((r) => r.status !== 200)) expect(r.body.error.code).toBe('IDEMPOTENCY_IN_FLIGHT');
    // a retry after it completed gets the first answer again
    const again = await book(buyer!.token, key);
    expect(again.body.id).toBe(ok[0]?.body.id);
    expect(await expectBalanced(server, eventId)).toMatchObject({ held: 4, available: 6 });
  });

  it('one user firing 5 parallel bookings gets exactly one HELD; the rest 409 HOLD_ALREADY_OPEN', async () => {
    const events = await Promise.all(Array.from({ length: 5 }, () => seedEvent(server, { capacity: 50 })));
    const [buyer] = await makeBuyers(server, 1);
    const results = await Promise.all(
      events.map((eventId) =>
        server.http('POST', `/api/events/${eventId}/book`, { token: buyer!.token, body: { quantity: 2 } }),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 200)) {
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('HOLD_ALREADY_OPEN');
    }
    const held = await server.sql("SELECT count(*)::int AS n FROM bookings WHERE user_id = ? AND status = 'HELD'", [
      buyer!.id,
    ]);
    expect(held[0]?.n).toBe(1);
    for (const eventId of events) await expectBalanced(server, eventId);
  });
});

describe('the database as the last word', () => {
  it('the database itself refuses to oversell or to open a second hold', async () => {
    const eventId = await seedEvent(server, { capacity: 2 });
    await expect(
      server.sql('UPDATE events SET available = available - 3, held = held + 3 WHERE id = ?', [eventId]),
    ).rejects.toThrow(/events_tickets_balance/);
    await expect(server.sql('UPDATE events SET available = available - 1 WHERE id = ?', [eventId])).rejects.toThrow(
      /events_tickets_balance/,
    );
    const [buyer] = await makeBuyers(server, 1);
    const insert = (id: string) =>
      server.sql(
        `INSERT INTO bookings (id, user_id, event_id, quantity, unit_price_minor, total_minor, currency, status, hold_expires_at)
         VALUES (?, ?, ?, 1, 100, 100, 'EUR', 'HELD', now() + interval '1 minute')`,
        [id, buyer!.id, eventId],
      );
    await insert(crypto.randomUUID());
    await expect(insert(crypto.randomUUID())).rejects.toThrow(/bookings_one_hold_per_user/);
  });

  it('booking status only moves forward: the database refuses any other transition', async () => {
    const eventId = await seedEvent(server, { capacity: 5 });
    const [buyer] = await makeBuyers(server, 1);
    const id = crypto.randomUUID();
    await server.sql(
      `INSERT INTO bookings (id, user_id, event_id, quantity, unit_price_minor, total_minor, currency, status, hold_expires_at)
       VALUES (?, ?, ?, 1, 100, 100, 'EUR', 'HELD', now() + interval '1 minute')`,
      [id, buyer!.id, eventId],
    );
    const move = (to: string) => server.sql('UPDATE bookings SET status = ? WHERE id = ?', [to, id]);
    await move('CONFIRMED');
    for (const backwards of ['HELD', 'EXPIRED', 'CANCELLED'])
      await expect(move(backwards)).rejects.toThrow(/bookings_status_forward|cannot move/);
    await move('REFUNDED');
    await expect(move('CONFIRMED')).rejects.toThrow(/cannot move from REFUNDED to CONFIRMED/);
  });
});
