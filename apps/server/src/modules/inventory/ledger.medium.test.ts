import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectBalanced, makeBuyers, type SeedEvent, seedEvent } from '../../test/fixtures.ts';
import { type MediumServer, startMediumServer } from '../../test/medium.ts';
import { createHoldQueue, type HoldQueue } from './hold-queue.ts';
import {
  confirmSale,
  refundSale,
  releaseEventHolds,
  releaseHold,
  releaseLapsedHolds,
  resizeInventory,
  type TakeResult,
  takeTickets,
} from './ledger.ts';
import { REFUSAL_ORDER } from './sale-rule.ts';

// The medium tier: the ledger's moves driven directly on the real PostgreSQL, no HTTP.
let server: MediumServer;
beforeAll(async () => {
  server = await startMediumServer();
});
afterAll(() => server?.close());

const em = () => server.deps.orm.em.fork();
const now = () => server.deps.clock.now();
const inMinutes = (minutes: number) => new Date(now().getTime() + minutes * 60_000);

const requestOf = (userId: string, eventId: string, quantity: number, at: Date) => ({
  userId,
  eventId,
  quantity,
  now: at,
  holdExpiresAt: new Date(at.getTime() + 15 * 60_000),
});

type Take = (userId: string, eventId: string, quantity: number, at?: Date) => Promise<TakeResult>;

/** One transaction per hold. */
const take: Take = (userId, eventId, quantity, at = now()) =>
  takeTickets(em(), requestOf(userId, eventId, quantity, at));

/** The sizes of the batches the queue ran, in order. */
let batches: number[] = [];
let queue: HoldQueue;
beforeAll(() => {
  queue = createHoldQueue({ fork: em, onBatch: (_eventId, size) => batches.push(size) });
});
/** Through the per-event batching queue, as the server takes holds with HOLD_BATCHING on. */
const takeBatched: Take = (userId, eventId, quantity, at = now()) =>
  queue.take(requestOf(userId, eventId, quantity, at));

const WAYS: [string, () => Take][] = [
  ['one transaction per hold', () => take],
  ['batched', () => takeBatched],
];

async function setup(event: SeedEvent = {}, buyers = 1) {
  const eventId = await seedEvent(server, { capacity: 10, ...event });
  const users = await makeBuyers(server, buyers);
  return { eventId, users: users.map((user) => user.id) };
}

const bookingOf = (result: TakeResult) => {
  if (!result.ok) throw new Error(`refused: ${result.refusal.reason}`);
  return result.booking;
};

const statusOf = async (bookingId: string) =>
  (await server.sql<{ status: string }>('SELECT status FROM bookings WHERE id = ?', [bookingId]))[0]?.status;

describe('each move keeps available + held + sold = capacity', () => {
  it('hold: available → held, with a HELD booking and its expiry job', async () => {
    const { eventId, users } = await setup();
    const booking = bookingOf(await take(users[0]!, eventId, 3));
    expect(booking).toMatchObject({ status: 'HELD', quantity: 3, totalMinor: 7500 });
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 7, held: 3, sold: 0 });
  });

  it('a free event: available → sold at once, CONFIRMED, no hold left open', async () => {
    const { eventId, users } = await setup({ priceMinor: 0 });
    const booking = bookingOf(await take(users[0]!, eventId, 2));
    expect(booking).toMatchObject({ status: 'CONFIRMED', totalMinor: 0 });
    expect(booking.confirmedAt).not.toBeNull();
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 8, held: 0, sold: 2 });
    // no open hold: the same buyer can hold tickets of a paid event right after
    const paid = await seedEvent(server, { capacity: 5 });
    expect((await take(users[0]!, paid, 1)).ok).toBe(true);
  });

  it('release: held → available once; a second release changes nothing', async () => {
    const { eventId, users } = await setup();
    const booking = bookingOf(await take(users[0]!, eventId, 4));
    expect(await releaseHold(em(), booking.id, 'CANCELLED', now())).toBe(true);
    expect(await releaseHold(em(), booking.id, 'CANCELLED', now())).toBe(false);
    expect(await releaseHold(em(), booking.id, 'EXPIRED', now())).toBe(false);
    expect(await statusOf(booking.id)).toBe('CANCELLED');
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 10, held: 0 });
  });

  it('expiry: a hold is released only once it has lapsed', async () => {
    const { eventId, users } = await setup();
    const booking = bookingOf(await take(users[0]!, eventId, 2));
    expect(await releaseHold(em(), booking.id, 'EXPIRED', now(), { onlyIfLapsed: true })).toBe(false);
    expect(await releaseLapsedHolds(em(), { eventId }, inMinutes(16))).toBe(1);
    expect(await statusOf(booking.id)).toBe('EXPIRED');
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 10, held: 0 });
  });

  it('confirm: held → sold once; a second confirmation is recognised, not counted', async () => {
    const { eventId, users } = await setup();
    const booking = bookingOf(await take(users[0]!, eventId, 3));
    expect(await confirmSale(em(), booking.id, 'CAPTURE-1', now())).toBe('confirmed');
    expect(await confirmSale(em(), booking.id, 'CAPTURE-1', now())).toBe('already_confirmed');
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 7, held: 0, sold: 3 });
  });

  it('revive: a paid hold that lapsed is sold from what is available, if the rule still allows it', async () => {
    const { eventId, users } = await setup({ capacity: 4 }, 2);
    const first = bookingOf(await take(users[0]!, eventId, 3));
    const later = inMinutes(16);
    expect(await releaseLapsedHolds(em(), { eventId }, later)).toBe(1);
    expect(await confirmSale(em(), first.id, 'CAPTURE-2', later)).toBe('confirmed');
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 1, held: 0, sold: 3 });

    // another paid hold that lapsed while the event stopped selling is not revived, and never will be
    const second = bookingOf(await take(users[1]!, eventId, 1, later));
    await releaseLapsedHolds(em(), { eventId }, inMinutes(40));
    await server.sql("UPDATE events SET status = 'cancelled' WHERE id = ?", [eventId]);
    expect(await confirmSale(em(), second.id, 'CAPTURE-3', inMinutes(40))).toBe('no_tickets');
    await server.sql("UPDATE events SET status = 'published' WHERE id = ?", [eventId]);
    expect(await confirmSale(em(), second.id, 'CAPTURE-3', inMinutes(41))).toBe('not_open');
    const [row] = await server.sql<{ refund_due_at: Date | null }>('SELECT refund_due_at FROM bookings WHERE id = ?', [
      second.id,
    ]);
    expect(row?.refund_due_at).not.toBeNull();
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 1, held: 0, sold: 3 });
  });

  it('refund: CONFIRMED → REFUNDED once; the tickets go back on sale while the event is ahead', async () => {
    const { eventId, users } = await setup();
    const booking = bookingOf(await take(users[0]!, eventId, 2));
    await confirmSale(em(), booking.id, 'CAPTURE-4', now());
    expect(await refundSale(em(), booking.id, now())).toEqual({ refunded: true, ticketsReturned: true });
    expect(await refundSale(em(), booking.id, now())).toEqual({ refunded: false, ticketsReturned: false });
    expect(await statusOf(booking.id)).toBe('REFUNDED');
    const counts = await server.sql<{ available: number; sold: number }>(
      'SELECT available, sold FROM events WHERE id = ?',
      [eventId],
    );
    expect(counts[0]).toEqual({ available: 10, sold: 0 });
  });

  it('refund after the event started: the booking is REFUNDED, its tickets stay counted as sold', async () => {
    const { eventId, users } = await setup({ startsAt: inMinutes(60) });
    const booking = bookingOf(await take(users[0]!, eventId, 2));
    await confirmSale(em(), booking.id, 'CAPTURE-5', now());
    expect(await refundSale(em(), booking.id, inMinutes(90))).toEqual({ refunded: true, ticketsReturned: false });
    const [counts] = await server.sql<{ available: number; held: number; sold: number; capacity: number }>(
      'SELECT capacity, available, held, sold FROM events WHERE id = ?',
      [eventId],
    );
    expect(counts).toEqual({ capacity: 10, available: 8, held: 0, sold: 2 });
  });

  it('cancelling an event releases all its holds at once and leaves sales alone', async () => {
    const { eventId, users } = await setup({}, 3);
    const a = bookingOf(await take(users[0]!, eventId, 2));
    bookingOf(await take(users[1]!, eventId, 3));
    const paid = bookingOf(await take(users[2]!, eventId, 1));
    await confirmSale(em(), paid.id, 'CAPTURE-6', now());
    expect(await releaseEventHolds(em(), eventId, now())).toBe(2);
    expect(await releaseEventHolds(em(), eventId, now())).toBe(0);
    expect(await statusOf(a.id)).toBe('CANCELLED');
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 9, held: 0, sold: 1 });
  });

  it('resize: capacity moves what is on sale and never goes below what is held or sold', async () => {
    const { eventId, users } = await setup();
    bookingOf(await take(users[0]!, eventId, 4));
    expect(await resizeInventory(em(), eventId, 3, now())).toEqual({ ok: false, held: 4, sold: 0 });
    expect(await resizeInventory(em(), eventId, 6, now())).toEqual({ ok: true });
    expect(await expectBalanced(server, eventId)).toMatchObject({ capacity: 6, available: 2, held: 4 });
    expect(await resizeInventory(em(), eventId, 4, now())).toEqual({ ok: true });
    expect(await expectBalanced(server, eventId)).toMatchObject({ capacity: 4, available: 0, held: 4 });
  });
});

describe.each(WAYS)('each refusal reason for its case, in the documented order (%s)', (_way, takeOf) => {
  const take: Take = (...args) => takeOf()(...args);

  it('returns every reason, and changes nothing when it refuses', async () => {
    const seen: string[] = [];
    const refusalOf = async (result: Promise<TakeResult>, eventId: string | null) => {
      const answer = await result;
      if (answer.ok) throw new Error('expected a refusal');
      seen.push(answer.refusal.reason);
      if (eventId) await expectBalanced(server, eventId);
      return answer.refusal;
    };
    const [u1, u2, u3] = (await makeBuyers(server, 3)).map((buyer) => buyer.id) as [string, string, string];

    expect(await refusalOf(take(u1, randomUUID(), 1), null)).toEqual({ reason: 'EVENT_NOT_FOUND' });
    const draft = await seedEvent(server, { status: 'draft' });
    expect(await refusalOf(take(u1, draft, 1), draft)).toEqual({ reason: 'EVENT_NOT_ON_SALE', status: 'draft' });
    const started = await seedEvent(server, { startsAt: new Date(now().getTime() - 60_000) });
    expect(await refusalOf(take(u1, started, 1), started)).toEqual({ reason: 'EVENT_PAST' });
    const opensAt = new Date(now().getTime() + 60_000);
    const early = await seedEvent(server);
    await server.sql('UPDATE events SET sales_start_at = ? WHERE id = ?', [opensAt, early]);
    expect(await refusalOf(take(u1, early, 1), early)).toEqual({ reason: 'SALES_NOT_OPEN', opensAt });
    const endedAt = new Date(now().getTime() - 60_000);
    const ended = await seedEvent(server);
    await server.sql('UPDATE events SET sales_start_at = ?, sales_end_at = ? WHERE id = ?', [
      new Date(endedAt.getTime() - 60_000),
      endedAt,
      ended,
    ]);
    expect(await refusalOf(take(u1, ended, 1), ended)).toEqual({ reason: 'SALES_ENDED', endedAt });
    // a waiting room decides who may book: u1 is not in it, u2's admission ran out
    const roomed = await seedEvent(server);
    await server.sql('UPDATE events SET sales_start_at = ? WHERE id = ?', [
      new Date(now().getTime() - 120_000),
      roomed,
    ]);
    await server.sql(
      'INSERT INTO waiting_rooms (event_id, lead_minutes, created_at, updated_at) VALUES (?, 10, ?, ?)',
      [roomed, now(), now()],
    );
    await server.sql(
      `INSERT INTO queue_entries (event_id, user_id, draw_key, ticket_no, status, joined_at, admission_no, admitted_at,
                                  admission_expires_at)
       VALUES (?, ?, 0.5, 1, 'admitted', ?, 1, ?, ?)`,
      [roomed, u2, now(), new Date(now().getTime() - 90_000), new Date(now().getTime() - 30_000)],
    );
    expect(await refusalOf(take(u1, roomed, 1), roomed)).toEqual({ reason: 'ADMISSION_REQUIRED' });
    expect(await refusalOf(take(u2, roomed, 1), roomed)).toEqual({ reason: 'ADMISSION_EXPIRED' });
    const limited = await seedEvent(server, { capacity: 10, maxPerOrder: 2, maxPerUser: 3 });
    expect(await refusalOf(take(u1, limited, 3), limited)).toEqual({ reason: 'PER_ORDER', max: 2 });

    bookingOf(await take(u1, limited, 1));
    const elsewhere = await seedEvent(server, { capacity: 10 });
    expect(await refusalOf(take(u1, elsewhere, 1), elsewhere)).toEqual({ reason: 'HOLD_ALREADY_OPEN' });

    const single = await seedEvent(server, { capacity: 1 });
    expect(await refusalOf(take(u2, single, 2), single)).toEqual({ reason: 'SOLD_OUT', available: 1 });

    const paid = bookingOf(await take(u3, limited, 2));
    await confirmSale(em(), paid.id, `CAPTURE-${randomUUID()}`, now());
    expect(await refusalOf(take(u3, limited, 2), limited)).toEqual({ reason: 'PER_USER', max: 3, owned: 2 });

    expect(seen).toEqual([...REFUSAL_ORDER]);
  });

  it('an event that breaks several rules reports the first of them', async () => {
    const [buyer] = (await makeBuyers(server, 1)).map((b) => b.id) as [string];
    const other = await seedEvent(server, { capacity: 5 });
    bookingOf(await take(buyer, other, 1));
    // a draft, over the per-order limit, sold out, while the buyer holds tickets elsewhere
    const messy = await seedEvent(server, { status: 'draft', capacity: 1, maxPerOrder: 1 });
    const answer = await take(buyer, messy, 2);
    expect(answer.ok ? null : answer.refusal.reason).toBe('EVENT_NOT_ON_SALE');
    await server.sql("UPDATE events SET status = 'published' WHERE id = ?", [messy]);
    const next = await take(buyer, messy, 2);
    expect(next.ok ? null : next.refusal.reason).toBe('PER_ORDER');
    const third = await take(buyer, messy, 1);
    expect(third.ok ? null : third.refusal.reason).toBe('HOLD_ALREADY_OPEN');
  });

  it('holds that lapsed before their job ran neither sell the event out nor count as the buyer’s open hold', async () => {
    const { eventId, users } = await setup({ capacity: 3 }, 2);
    const stale = bookingOf(await take(users[0]!, eventId, 3));
    const later = inMinutes(16);
    // another buyer gets the tickets the lapsed hold kept; its owner may hold again at once
    expect(bookingOf(await take(users[1]!, eventId, 2, later)).status).toBe('HELD');
    expect(await statusOf(stale.id)).toBe('EXPIRED');
    expect(bookingOf(await take(users[0]!, eventId, 1, later)).status).toBe('HELD');
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 0, held: 3 });
  });
});

describe.each(WAYS)('under contention (%s)', (_way, takeOf) => {
  const take: Take = (...args) => takeOf()(...args);

  it('60 buyers racing for 10 tickets in 1-4 ticket orders: never oversold, every refusal SOLD_OUT', async () => {
    const { eventId, users } = await setup({ capacity: 10 }, 60);
    const results = await Promise.all(users.map((user, i) => take(user, eventId, (i % 4) + 1)));
    const won = results.filter((result) => result.ok).map(bookingOf);
    const refused = results.flatMap((result) => (result.ok ? [] : [result.refusal.reason]));
    const heldTickets = won.reduce((sum, booking) => sum + booking.quantity, 0);
    expect(heldTickets).toBeLessThanOrEqual(10);
    expect(new Set(refused)).toEqual(new Set(['SOLD_OUT']));
    const counts = await expectBalanced(server, eventId);
    expect(counts.held).toBe(heldTickets);
    // the last tickets went to someone: whatever is left is smaller than every refused order
    expect(counts.available).toBeLessThan(4);
  });
});

describe('batched holds', () => {
  const answerOf = (result: TakeResult) =>
    result.ok ? `${result.booking.status} ${result.booking.quantity}` : result.refusal.reason;

  it('requests that arrive together share one transaction, each judged in arrival order against the running counts', async () => {
    const eventId = await seedEvent(server, { capacity: 6, maxPerOrder: 3, maxPerUser: 3 });
    const [first, u1, u2, u3, u4, u5, u6] = (await makeBuyers(server, 7)).map((buyer) => buyer.id) as string[];
    const paid = bookingOf(await take(u5 as string, eventId, 2));
    await confirmSale(em(), paid.id, `CAPTURE-${randomUUID()}`, now());
    batches = [];
    // the first finds the event idle and goes at once; the rest arrive while it is in flight
    const answers = await Promise.all([
      takeBatched(first as string, eventId, 4), // over the per-order limit
      takeBatched(u1 as string, eventId, 1), // held: 3 left
      takeBatched(u1 as string, eventId, 1), // the same buyer again: already holding
      takeBatched(u2 as string, eventId, 2), // held: 1 left
      takeBatched(u3 as string, eventId, 2), // sold out for 2
      takeBatched(u5 as string, eventId, 1), // owns 2 of at most 3, held: 0 left
      takeBatched(u4 as string, eventId, 1), // sold out
      takeBatched(u6 as string, eventId, 1), // sold out
    ]);
    expect(batches).toEqual([1, 7]);
    expect(answers.map(answerOf)).toEqual([
      'PER_ORDER',
      'HELD 1',
      'HOLD_ALREADY_OPEN',
      'HELD 2',
      'SOLD_OUT',
      'HELD 1',
      'SOLD_OUT',
      'SOLD_OUT',
    ]);
    expect(answers[4]).toEqual({ ok: false, refusal: { reason: 'SOLD_OUT', available: 1 } });
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 0, held: 4, sold: 2 });
  });

  it('a buyer whose hold elsewhere commits while the batch is in flight is refused; the others still get the tickets', async () => {
    const eventId = await seedEvent(server, { capacity: 3 });
    const elsewhere = await seedEvent(server, { capacity: 3 });
    const [early, racer, patient] = (await makeBuyers(server, 3)).map((buyer) => buyer.id) as [string, string, string];
    // the racer's hold for another event, from another instance, not yet committed
    const side = new pg.Client({ connectionString: server.databaseUrl });
    await side.connect();
    try {
      await side.query('BEGIN');
      await side.query(
        `INSERT INTO bookings (id, user_id, event_id, quantity, unit_price_minor, total_minor, currency, status, hold_expires_at)
         VALUES ($1, $2, $3, 1, 2500, 2500, 'EUR', 'HELD', now() + interval '15 minutes')`,
        [randomUUID(), racer, elsewhere],
      );
      await side.query('UPDATE events SET available = available - 1, held = held + 1 WHERE id = $1', [elsewhere]);
      batches = [];
      const answers = Promise.all([
        takeBatched(early, eventId, 1),
        takeBatched(racer, eventId, 2), // allowed on what was committed when it was read...
        takeBatched(patient, eventId, 2), // ...so this one is first judged sold out
      ]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await side.query('COMMIT');
      expect((await answers).map(answerOf)).toEqual(['HELD 1', 'HOLD_ALREADY_OPEN', 'HELD 2']);
      expect(batches).toEqual([1, 2]);
    } finally {
      await side.end();
    }
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 0, held: 3 });
    expect(await expectBalanced(server, elsewhere)).toMatchObject({ available: 2, held: 1 });
  });

  it('a request that breaks a constraint fails alone', async () => {
    const eventId = await seedEvent(server, { capacity: 10 });
    const [a, b, c] = (await makeBuyers(server, 3)).map((buyer) => buyer.id) as [string, string, string];
    const ghost = randomUUID(); // no such user: the booking's foreign key refuses it
    const answers = await Promise.allSettled([
      takeBatched(a, eventId, 1),
      takeBatched(b, eventId, 1),
      takeBatched(ghost, eventId, 1),
      takeBatched(c, eventId, 1),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 7, held: 3 });
  });

  it('a free event in one batch: sold at once, the per-user limit counted across the batch', async () => {
    const eventId = await seedEvent(server, { capacity: 10, priceMinor: 0, maxPerUser: 3 });
    const [a, b] = (await makeBuyers(server, 2)).map((buyer) => buyer.id) as [string, string];
    const answers = await Promise.all([
      takeBatched(b, eventId, 1),
      takeBatched(a, eventId, 2),
      takeBatched(a, eventId, 1),
      takeBatched(a, eventId, 1),
    ]);
    expect(answers.map(answerOf)).toEqual(['CONFIRMED 1', 'CONFIRMED 2', 'CONFIRMED 1', 'PER_USER']);
    expect(await expectBalanced(server, eventId)).toMatchObject({ available: 6, sold: 4, held: 0 });
  });
});
