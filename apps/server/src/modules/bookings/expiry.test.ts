import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClockJobWorker } from '../../jobs/clock-worker.ts';
import { housekeepingJobs } from '../../jobs/housekeeping.ts';
import { EXPIRE_HOLD_QUEUE } from '../../jobs/queues.ts';
import { manualClock } from '../../lib/clock.ts';
import { createLogger } from '../../logger.ts';
import { paymentJobs } from '../../payments/payments.jobs.ts';
import { expectBalanced, makeBuyers, seedEvent, ticketCounts } from '../../test/fixtures.ts';
import { startTestServer, type TestServer } from '../../test/harness.ts';
import { bookingJobs } from './bookings.jobs.ts';

const clock = manualClock(new Date('2026-12-01T10:00:00Z'));
const TTL_MS = 15 * 60_000;
let server: TestServer;
beforeAll(async () => {
  // no polling: jobs run only where a test calls runDue(), so "before the job ran" is certain
  server = await startTestServer({
    clock,
    pollJobs: false,
    env: { HOLD_TTL_MINUTES: '15', ACCESS_TOKEN_EXPIRE_MINUTES: '600' },
  });
});
afterAll(() => server?.close());

const book = (token: string, eventId: string, quantity: number) =>
  server.http('POST', `/api/events/${eventId}/book`, { token, body: { quantity } });

function secondWorker() {
  const { orm, checkout } = server.deps;
  return new ClockJobWorker({
    databaseUrl: server.databaseUrl,
    clock,
    log: createLogger('silent'),
    handlers: {
      ...bookingJobs({ orm, clock }),
      ...paymentJobs({ orm, checkout }),
      ...housekeepingJobs({ orm, clock }),
      // this worker only races the server's for holds; mail is the server's to send
      'send-mail': async () => {},
      'admit-buyers': async () => {},
      'waitlist-offer': async () => {},
    },
  });
}

describe('hold expiry', () => {
  it('a lapsed hold is not live anywhere, even before the job runs', async () => {
    const eventId = await seedEvent(server, { capacity: 4 });
    const [first, second] = await makeBuyers(server, 2);
    const held = await book(first!.token, eventId, 4);
    expect(held.status).toBe(200);
    expect((await book(second!.token, eventId, 1)).body.error.code).toBe('SOLD_OUT');

    clock.advance(TTL_MS + 1000);
    // no job has run yet: booking releases the lapsed hold itself
    const other = await book(second!.token, eventId, 3);
    expect(other.status).toBe(200);
    const mine = await server.http('GET', `/api/bookings/${held.body.id}`, { token: first!.token });
    expect(mine.body).toMatchObject({ status: 'EXPIRED', expiredAt: expect.any(String) });
    // the buyer whose hold lapsed may hold again: the lapsed hold is not their "open hold"
    expect((await book(first!.token, eventId, 1)).status).toBe(200);
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 0, held: 4 });
  });

  it('listing and availability do not count a lapsed hold, before any job or booking touched it', async () => {
    const eventId = await seedEvent(server, { capacity: 5 });
    const [buyer] = await makeBuyers(server, 1);
    expect((await book(buyer!.token, eventId, 5)).status).toBe(200);
    const soldOut = await server.http('GET', '/api/events?hasTickets=false&limit=100');
    expect(soldOut.body.items.map((e: { id: string }) => e.id)).toContain(eventId);
    expect((await server.http('GET', `/api/events/${eventId}/availability`)).body).toMatchObject({
      available: 0,
      held: 5,
    });
    clock.advance(TTL_MS + 1000);
    const list = await server.http('GET', '/api/events?hasTickets=true&limit=100');
    expect(list.body.items.find((e: { id: string }) => e.id === eventId)).toMatchObject({ available: 5, held: 0 });
    const availability = await server.http('GET', `/api/events/${eventId}/availability`);
    expect(availability.body).toMatchObject({ available: 5, held: 0, sold: 0 });
  });

  it('two workers at once release each expired hold exactly once, and availability comes back exactly', async () => {
    const eventId = await seedEvent(server, { capacity: 30 });
    const buyers = await makeBuyers(server, 10);
    for (const buyer of buyers) expect((await book(buyer.token, eventId, 3)).status).toBe(200);
    expect(await ticketCounts(server, eventId)).toMatchObject({ available: 0, held: 30 });

    await server.worker.runDue();
    expect(await ticketCounts(server, eventId)).toMatchObject({ held: 30 }); // nothing due yet

    clock.advance(TTL_MS + 1000);
    const other = secondWorker();
    const [a, b] = await Promise.all([server.worker.runDue(), other.runDue()]);
    expect(a + b).toBeGreaterThanOrEqual(10);
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 30, held: 0, sold: 0 });
    const expired = await server.sql(
      "SELECT count(*)::int AS n FROM bookings WHERE event_id = ? AND status = 'EXPIRED'",
      [eventId],
    );
    expect(expired[0]?.n).toBe(10);
    // a job that succeeded is deleted: none left means all ten completed
    const left = await server.sql(
      `SELECT count(*)::int AS n FROM graphile_worker.jobs
       WHERE key IN (SELECT ? || ':' || id FROM bookings WHERE event_id = ?)`,
      [EXPIRE_HOLD_QUEUE, eventId],
    );
    expect(left[0]?.n).toBe(0);
  });

  it('a cancelled hold is not released again by its expiry job', async () => {
    const eventId = await seedEvent(server, { capacity: 5 });
    const [buyer] = await makeBuyers(server, 1);
    const held = await book(buyer!.token, eventId, 2);
    await server.http('POST', `/api/bookings/${held.body.id}/cancel`, { token: buyer!.token });
    clock.advance(TTL_MS + 1000);
    await server.worker.runDue();
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 5, held: 0 });
    const row = await server.sql('SELECT status FROM bookings WHERE id = ?', [held.body.id]);
    expect(row[0]?.status).toBe('CANCELLED');
  });
});
