import { randomUUID } from 'node:crypto';
import { DomainError } from '@boxoffice/contracts';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../lib/clock.ts';
import { expectBalanced, makeBuyers, seedEvent } from '../../test/fixtures.ts';
import { type MediumServer, startMediumServer } from '../../test/medium.ts';
import { takeTickets } from '../inventory/ledger.ts';
import { earlyJoinerSpread, seededRandom, spearman } from './fairness.ts';

// The medium tier: the waiting room's procedures through createCaller, its admission job driven by
// the test clock, on the real PostgreSQL.
const clock = manualClock(new Date('2031-05-01T09:00:00Z'));
let server: MediumServer;
beforeAll(async () => {
  server = await startMediumServer({ clock, env: { ADMISSION_TTL_SECONDS: '60', ADMISSION_TICK_SECONDS: '2' } });
});
afterAll(() => server?.close());

const MINUTE = 60_000;

async function codeOf(call: Promise<unknown>): Promise<{ code: string; details: unknown }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof TRPCError && error.cause instanceof DomainError)
      return { code: error.cause.code, details: error.cause.details };
    throw error;
  }
  throw new Error('expected the call to fail');
}

const admin = () => server.callerFor({ id: randomUUID(), role: 'admin' });

/** An event that opens its sale `opensInMs` from now, with a waiting room open `leadMinutes` before. */
async function roomEvent(opts: { capacity: number; opensInMs: number; leadMinutes?: number; priceMinor?: number }) {
  const eventId = await seedEvent(server, {
    capacity: opts.capacity,
    priceMinor: opts.priceMinor ?? 0,
    maxPerOrder: 4,
  });
  const salesStartAt = new Date(clock.now().getTime() + opts.opensInMs);
  await server.sql('UPDATE events SET sales_start_at = ? WHERE id = ?', [salesStartAt, eventId]);
  await (await admin()).queue.configure({ eventId, enabled: true, leadMinutes: opts.leadMinutes ?? 60 });
  return { eventId, salesStartAt };
}

/** Runs the admission job (and whatever else is due) as the clock moves on in steps. */
async function tick(ms = 2_000) {
  clock.advance(ms);
  await server.worker.runDue();
}

describe('fairness: the opening draw', () => {
  // Spearman's rho of join order against admission order. A uniformly random permutation of
  // 2,000 has rho ~ N(0, 1/sqrt(1999) = 0.022); |rho| < 0.1 is 4.5 standard deviations, and the
  // draw is seeded, so the test is deterministic. First come, first served gives 1, reversed -1.
  const N = 2000;
  const RHO_BOUND = 0.1;
  // the first 200 joiners' admission places, in 10 slices: chi-square with 9 degrees of freedom,
  // 27.88 is its 0.1% point; first come, first served scores 1,800
  const SPREAD_BOUND = 27.88;

  it('the bounds reject first come, first served and its reverse (so the test below can fail)', () => {
    const joinOrder = Array.from({ length: N }, (_, i) => i);
    const fifo = joinOrder.slice();
    const reversed = joinOrder.map((i) => N - 1 - i);
    expect(spearman(joinOrder, fifo)).toBeCloseTo(1, 10);
    expect(spearman(joinOrder, reversed)).toBeCloseTo(-1, 10);
    expect(Math.abs(spearman(joinOrder, fifo))).toBeGreaterThan(RHO_BOUND);
    expect(earlyJoinerSpread(fifo, 200, 10)).toBeGreaterThan(SPREAD_BOUND);
    expect(earlyJoinerSpread(reversed, 200, 10)).toBeGreaterThan(SPREAD_BOUND);
    // and a shuffle by the same seeded generator passes them
    const random = seededRandom(7);
    const shuffled = joinOrder.map((i) => [random(), i] as const).sort((a, b) => a[0] - b[0]);
    const rankByJoin = new Array<number>(N);
    shuffled.forEach(([, i], rank) => {
      rankByJoin[i] = rank;
    });
    expect(Math.abs(spearman(joinOrder, rankByJoin))).toBeLessThan(RHO_BOUND);
  });

  it(`${N} buyers who joined before the opening are admitted in a uniformly random order`, async () => {
    server.deps.waitingRoom.random = seededRandom(20_261_202);
    const { eventId } = await roomEvent({ capacity: N, opensInMs: 30 * MINUTE });
    const buyers = await makeBuyers(server, N);
    for (const buyer of buyers) {
      const status = await (await server.callerFor({ id: buyer.id, role: 'user' })).queue.join({ eventId });
      expect(status).toMatchObject({ state: 'waiting', drawn: false, position: null });
      clock.advance(100);
    }
    // joining again keeps the place
    const again = await (await server.callerFor({ id: buyers[0]!.id, role: 'user' })).queue.join({ eventId });
    expect(again.state).toBe('waiting');

    clock.set(new Date(clock.now().getTime() + 30 * MINUTE));
    await server.worker.runDue();
    for (let i = 0; i < 10; i++) await tick();

    const rows = await server.sql<{ user_id: string; admission_no: number; ticket_no: number }>(
      'SELECT user_id, admission_no, ticket_no FROM queue_entries WHERE event_id = ? AND admitted_at IS NOT NULL',
      [eventId],
    );
    expect(rows).toHaveLength(N);
    const admissionByUser = new Map(rows.map((row) => [row.user_id, row.admission_no]));
    const joinOrder = buyers.map((_, i) => i);
    const admissionOrder = buyers.map((buyer) => admissionByUser.get(buyer.id) as number);
    // one admission sequence, 1..N, following the drawn numbers
    expect([...admissionOrder].sort((a, b) => a - b)).toEqual(joinOrder.map((i) => i + 1));
    for (const row of rows) expect(row.admission_no).toBe(row.ticket_no);

    const rho = spearman(joinOrder, admissionOrder);
    const spread = earlyJoinerSpread(
      admissionOrder.map((no) => no - 1),
      200,
      10,
    );
    console.info(
      `fairness: spearman rho ${rho.toFixed(4)} (bound ±${RHO_BOUND}), early-joiner chi² ${spread.toFixed(2)} (bound ${SPREAD_BOUND})`,
    );
    expect(Math.abs(rho)).toBeLessThan(RHO_BOUND);
    expect(spread).toBeLessThan(SPREAD_BOUND);
  }, 240_000);
});

describe('the sale rule with a waiting room', () => {
  it('before salesStartAt, without an admission, and with an expired one: three codes of their own', async () => {
    const { eventId, salesStartAt } = await roomEvent({ capacity: 10, opensInMs: 10 * MINUTE, leadMinutes: 30 });
    const [early, outsider, slow, quick] = await makeBuyers(server, 4);
    const as = (buyer: { id: string }) => server.callerFor({ id: buyer.id, role: 'user' });

    const before = await codeOf((await as(early!)).bookings.create({ eventId, quantity: 1 }));
    expect(before).toEqual({ code: 'SALES_NOT_OPEN', details: { opensAt: salesStartAt.toISOString() } });
    // the ledger's own path (no batching) answers the same
    const direct = await takeTickets(server.deps.orm.em.fork(), {
      userId: early!.id,
      eventId,
      quantity: 1,
      now: clock.now(),
      holdExpiresAt: new Date(clock.now().getTime() + MINUTE),
    });
    expect(direct).toMatchObject({ ok: false, refusal: { reason: 'SALES_NOT_OPEN' } });

    for (const buyer of [slow!, quick!]) await (await as(buyer)).queue.join({ eventId });
    clock.set(salesStartAt);
    await server.worker.runDue();
    expect((await (await as(slow!)).queue.status({ eventId })).state).toBe('admitted');

    expect((await codeOf((await as(outsider!)).bookings.create({ eventId, quantity: 1 }))).code).toBe(
      'ADMISSION_REQUIRED',
    );
    const booked = await (await as(quick!)).bookings.create({ eventId, quantity: 1 });
    expect(booked.status).toBe('CONFIRMED');

    clock.advance(61_000);
    expect((await codeOf((await as(slow!)).bookings.create({ eventId, quantity: 1 }))).code).toBe('ADMISSION_EXPIRED');
    expect((await (await as(slow!)).queue.status({ eventId })).state).toBe('expired');
    await server.worker.runDue();
    const state = await (await admin()).queue.state({ eventId, limit: 100 });
    expect(state.counts).toMatchObject({ booked: 1, expired: 1, waiting: 0 });
    await expectBalanced(server, eventId);
  });

  it('refuses from salesEndAt with its own code', async () => {
    const eventId = await seedEvent(server, { capacity: 5, priceMinor: 0 });
    await server.sql('UPDATE events SET sales_start_at = ?, sales_end_at = ? WHERE id = ?', [
      new Date(clock.now().getTime() - 2 * MINUTE),
      new Date(clock.now().getTime() - MINUTE),
      eventId,
    ]);
    const [buyer] = await makeBuyers(server, 1);
    const refused = await codeOf(
      (await server.callerFor({ id: buyer!.id, role: 'user' })).bookings.create({ eventId }),
    );
    expect(refused.code).toBe('SALES_ENDED');
  });

  it('an admitted buyer who does not book in time loses the place to the next in line', async () => {
    const { eventId, salesStartAt } = await roomEvent({ capacity: 1, opensInMs: 5 * MINUTE });
    const buyers = await makeBuyers(server, 3);
    for (const buyer of buyers) await (await server.callerFor({ id: buyer.id, role: 'user' })).queue.join({ eventId });
    clock.set(salesStartAt);
    await server.worker.runDue();
    const statuses = async () =>
      Promise.all(
        buyers.map(async (b) => (await server.callerFor({ id: b.id, role: 'user' })).queue.status({ eventId })),
      );
    // one ticket, so one admission at a time
    let now = await statuses();
    expect(now.filter((s) => s.state === 'admitted')).toHaveLength(1);
    const first = now.findIndex((s) => s.state === 'admitted');
    const waiting = now.filter((s) => s.state === 'waiting');
    expect(waiting.map((s) => s.position).sort()).toEqual([1, 2]);
    expect(waiting.every((s) => s.admission === null)).toBe(true);

    clock.advance(61_000);
    await server.worker.runDue();
    now = await statuses();
    expect(now[first]?.state).toBe('expired');
    const second = now.findIndex((s) => s.state === 'admitted');
    expect(second).not.toBe(first);
    expect(now[second]?.admission?.expiresAt).toBe(new Date(clock.now().getTime() + 60_000).toISOString());

    // the second books the last ticket; the room sells out and the third is told at once
    await (await server.callerFor({ id: buyers[second]!.id, role: 'user' })).bookings.create({ eventId });
    await tick();
    now = await statuses();
    expect(now.map((s) => s.state).sort()).toEqual(['booked', 'expired', 'sold_out']);
    const state = await (await admin()).queue.state({ eventId, limit: 10 });
    expect(state).toMatchObject({ finishReason: 'sold_out', counts: { booked: 1, expired: 1, soldOut: 1 } });
    // ...and by mail: one sold-out mail, to the one still waiting, sent by the mail job
    await tick();
    const told = await server.sql<{ subject_key: string; sent: boolean }>(
      `SELECT subject_key, sent_at IS NOT NULL AS sent FROM mail_outbox WHERE kind = 'waiting-room-sold-out'
        AND subject_key LIKE ?`,
      [`${eventId}:%`],
    );
    const third = now.findIndex((s) => s.state === 'sold_out');
    expect(told).toEqual([{ subject_key: `${eventId}:${buyers[third]!.id}`, sent: true }]);
    // a finished room lets no one in
    const [late] = await makeBuyers(server, 1);
    expect((await codeOf((await server.callerFor({ id: late!.id, role: 'user' })).queue.join({ eventId }))).code).toBe(
      'SOLD_OUT',
    );
  });

  it('later arrivals queue behind the draw in arrival order', async () => {
    const { eventId, salesStartAt } = await roomEvent({ capacity: 2, opensInMs: MINUTE });
    const [a, b, c, d] = await makeBuyers(server, 4);
    for (const buyer of [a!, b!])
      await (await server.callerFor({ id: buyer.id, role: 'user' })).queue.join({ eventId });
    clock.set(salesStartAt);
    await server.worker.runDue();
    const late1 = await (await server.callerFor({ id: c!.id, role: 'user' })).queue.join({ eventId });
    const late2 = await (await server.callerFor({ id: d!.id, role: 'user' })).queue.join({ eventId });
    expect(late1).toMatchObject({ state: 'waiting', drawn: true, position: 1, ahead: 0 });
    expect(late2).toMatchObject({ position: 2, ahead: 1 });
    const rows = await server.sql<{ user_id: string; ticket_no: number }>(
      'SELECT user_id, ticket_no FROM queue_entries WHERE event_id = ? ORDER BY ticket_no',
      [eventId],
    );
    expect(rows.map((row) => row.ticket_no)).toEqual([1, 2, 3, 4]);
    expect(rows.slice(2).map((row) => row.user_id)).toEqual([c!.id, d!.id]);
  });

  it('joining before the lead time is refused with the time it opens', async () => {
    const { eventId, salesStartAt } = await roomEvent({ capacity: 2, opensInMs: 3 * 60 * MINUTE, leadMinutes: 60 });
    const [buyer] = await makeBuyers(server, 1);
    const refused = await codeOf((await server.callerFor({ id: buyer!.id, role: 'user' })).queue.join({ eventId }));
    expect(refused).toEqual({
      code: 'QUEUE_NOT_OPEN',
      details: { opensAt: new Date(salesStartAt.getTime() - 60 * MINUTE).toISOString() },
    });
  });
});
