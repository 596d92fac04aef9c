import { randomUUID } from 'node:crypto';
import { DomainError } from '@boxoffice/contracts';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectBalanced, makeBuyers, seedEvent } from '../../test/fixtures.ts';
import { type MediumServer, startMediumServer } from '../../test/medium.ts';
import { takeTickets } from '../inventory/ledger.ts';

// The medium tier: the bookings procedures through createCaller on the real PostgreSQL, no HTTP.
let server: MediumServer;
beforeAll(async () => {
  server = await startMediumServer();
});
afterAll(() => server?.close());

/** The domain code a procedure failed with. */
async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    if (error instanceof TRPCError && error.cause instanceof DomainError) return error.cause.code;
    throw error;
  }
  throw new Error('expected the call to fail');
}

describe('bookings through createCaller', () => {
  it('a paid event is held with a payment link; a free one is confirmed at once', async () => {
    const paid = await seedEvent(server, { capacity: 5, priceMinor: 1200 });
    const free = await seedEvent(server, { capacity: 5, priceMinor: 0 });
    const [buyer] = await makeBuyers(server, 1);
    const caller = await server.callerFor({ id: buyer!.id, role: 'user' });

    const gift = await caller.bookings.create({ eventId: free, quantity: 2 });
    expect(gift).toMatchObject({ status: 'CONFIRMED', totalMinor: 0, paymentUrl: null });
    const held = await caller.bookings.create({ eventId: paid, quantity: 1 });
    expect(held).toMatchObject({ status: 'HELD', totalMinor: 1200 });
    expect(held.paymentUrl).toMatch(/^https?:\/\//);
    expect(await expectBalanced(server, free)).toMatchObject({ sold: 2, held: 0 });
    expect(await expectBalanced(server, paid)).toMatchObject({ held: 1 });
  });

  it('answers each refusal with its code, and anonymous callers with UNAUTHENTICATED', async () => {
    const [buyer] = await makeBuyers(server, 1);
    const caller = await server.callerFor({ id: buyer!.id, role: 'user' });
    expect(await codeOf(caller.bookings.create({ eventId: randomUUID() }))).toBe('EVENT_NOT_FOUND');
    const draft = await seedEvent(server, { status: 'draft' });
    expect(await codeOf(caller.bookings.create({ eventId: draft }))).toBe('EVENT_NOT_ON_SALE');
    const tiny = await seedEvent(server, { capacity: 1 });
    expect(await codeOf(caller.bookings.create({ eventId: tiny, quantity: 2 }))).toBe('SOLD_OUT');
    expect(await codeOf(caller.bookings.create({ eventId: tiny, quantity: 0 }))).toBe('INVALID_QUANTITY');
    const anonymous = await server.callerFor(null);
    expect(await codeOf(anonymous.bookings.create({ eventId: tiny }))).toBe('UNAUTHENTICATED');
  });
});

describe('a hold and its payment', () => {
  it('answers with a payment link of ours; the PayPal order is made when the buyer goes to pay, once', async () => {
    const eventId = await seedEvent(server, { capacity: 5, priceMinor: 1500 });
    const [buyer] = await makeBuyers(server, 1);
    const caller = await server.callerFor({ id: buyer!.id, role: 'user' });
    const held = await caller.bookings.create({ eventId, quantity: 2 });
    expect(held.paymentUrl).toMatch(/\/payments\/paypal\/start\?ref=/);
    const orderOf = async () =>
      (
        await server.sql<{ paypal_order_id: string | null }>('SELECT paypal_order_id FROM bookings WHERE id = ?', [
          held.id,
        ])
      )[0]?.paypal_order_id;
    expect(await orderOf()).toBeNull();
    expect((await caller.bookings.get({ bookingId: held.id })).paymentUrl).toBe(held.paymentUrl);

    const started = await caller.bookings.startPayment({ bookingId: held.id });
    expect(started).toMatchObject({ bookingId: held.id, holdExpiresAt: held.holdExpiresAt });
    expect(started.approvalUrl).toContain(started.paypalOrderId);
    expect(await orderOf()).toBe(started.paypalOrderId);
    expect(await caller.bookings.startPayment({ bookingId: held.id })).toEqual(started);

    const other = await server.callerFor({ id: (await makeBuyers(server, 1))[0]!.id, role: 'user' });
    expect(await codeOf(other.bookings.startPayment({ bookingId: held.id }))).toBe('BOOKING_NOT_FOUND');
    await caller.bookings.cancel({ bookingId: held.id });
    expect(await codeOf(caller.bookings.startPayment({ bookingId: held.id }))).toBe('BOOKING_NOT_PAYABLE');
  });

  it('a hold taken by the ledger alone gets its link when read', async () => {
    const eventId = await seedEvent(server, { capacity: 5, priceMinor: 1500 });
    const [buyer] = await makeBuyers(server, 1);
    const now = server.deps.clock.now();
    const taken = await takeTickets(server.deps.orm.em.fork(), {
      userId: buyer!.id,
      eventId,
      quantity: 2,
      now,
      holdExpiresAt: new Date(now.getTime() + 15 * 60_000),
    });
    if (!taken.ok) throw new Error(taken.refusal.reason);
    const caller = await server.callerFor({ id: buyer!.id, role: 'user' });
    const read = await caller.bookings.get({ bookingId: taken.booking.id });
    expect(read.status).toBe('HELD');
    expect(read.paymentUrl).toMatch(/\/payments\/paypal\/start\?ref=/);
  });
});
