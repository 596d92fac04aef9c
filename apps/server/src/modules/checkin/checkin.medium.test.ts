import { createPublicKey, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../lib/clock.ts';
import { makeBuyers, seedEvent } from '../../test/fixtures.ts';
import { signInAdmin } from '../../test/harness.ts';
import { type MediumServer, startMediumServer } from '../../test/medium.ts';
import type { AuthUser } from '../auth/tokens.ts';
import { refundSale } from '../inventory/ledger.ts';

// The medium tier: check-in procedures through createCaller on a real PostgreSQL.
const clock = manualClock(new Date('2026-12-01T18:00:00Z'));
let server: MediumServer;
let admin: AuthUser;
let staff: AuthUser;
let plain: AuthUser;
let eventA: string;
let eventB: string;

beforeAll(async () => {
  server = await startMediumServer({ clock, env: { ACCESS_TOKEN_EXPIRE_MINUTES: '1440' } });
  admin = { id: (await signInAdmin(server)).id, role: 'admin' };
  const [s, p] = await makeBuyers(server, 2);
  staff = { id: s!.id, role: 'user' };
  plain = { id: p!.id, role: 'user' };
  eventA = await seedEvent(server, { capacity: 200, priceMinor: 0, maxPerUser: 10, title: 'Door A' });
  eventB = await seedEvent(server, { capacity: 20, priceMinor: 0, title: 'Door B' });
  const granted = await (await server.callerFor(admin)).checkin.grantStaff({ eventId: eventA, userId: staff.id });
  expect(granted.items.map((item) => item.userId)).toEqual([staff.id]);
});
afterAll(() => server?.close());

/** Books `quantity` free tickets for a fresh buyer; returns the booking and its tickets. */
async function ticketsOf(eventId: string, quantity: number) {
  const [buyer] = await makeBuyers(server, 1);
  const caller = await server.callerFor({ id: buyer!.id, role: 'user' });
  const booking = await caller.bookings.create({ eventId, quantity });
  expect(booking.status).toBe('CONFIRMED');
  const { items } = await caller.tickets.forBooking({ bookingId: booking.id });
  return { booking, tickets: items, buyer: buyer! };
}

const scan = async (as: AuthUser, eventId: string, code: string) =>
  (await server.callerFor(as)).checkin.scan({ eventId, code });

describe('checkin.scan', () => {
  it('first scan ADMITTED (time and scanner recorded), second ALREADY_ADMITTED with the first time', async () => {
    const { tickets } = await ticketsOf(eventA, 1);
    const ticket = tickets[0]!;
    const first = await scan(staff, eventA, ticket.code);
    expect(first).toMatchObject({ result: 'ADMITTED', ticketId: ticket.id, checkedInAt: clock.now().toISOString() });
    const firstAt = first.checkedInAt;
    clock.advance(60_000);
    const second = await scan(admin, eventA, ticket.code);
    expect(second).toMatchObject({ result: 'ALREADY_ADMITTED', ticketId: ticket.id, checkedInAt: firstAt });
    const [row] = await server.sql<{ checked_in_by: string; check_in_source: string }>(
      'SELECT checked_in_by, check_in_source FROM tickets WHERE id = ?',
      [ticket.id],
    );
    expect(row).toEqual({ checked_in_by: staff.id, check_in_source: 'online' });
  });

  it('shows the attendee name', async () => {
    const { tickets, buyer } = await ticketsOf(eventA, 1);
    await (await server.callerFor({ id: buyer.id, role: 'user' })).tickets.setAttendee({
      ticketId: tickets[0]!.id,
      attendeeName: 'Grace Hopper',
    });
    expect(await scan(staff, eventA, tickets[0]!.code)).toMatchObject({
      result: 'ADMITTED',
      attendeeName: 'Grace Hopper',
    });
  });

  it("a refunded booking's ticket is VOID", async () => {
    const { booking, tickets } = await ticketsOf(eventA, 2);
    await server.deps.orm.em.fork().transactional((tx) => refundSale(tx, booking.id, clock.now()));
    for (const ticket of tickets) expect((await scan(staff, eventA, ticket.code)).result).toBe('VOID');
  });

  it('a code with one changed character is INVALID_CODE, and so is anything malformed', async () => {
    const { tickets } = await ticketsOf(eventA, 1);
    const code = tickets[0]!.code;
    for (const i of [0, 5, 40, 70, code.length - 1]) {
      const c = code[i] as string;
      const changed = code.slice(0, i) + (c === 'A' ? 'B' : 'A') + code.slice(i + 1);
      expect(await scan(staff, eventA, changed)).toEqual({
        result: 'INVALID_CODE',
        ticketId: null,
        attendeeName: null,
        checkedInAt: null,
      });
    }
    for (const junk of ['hello', '{"ticket":1}', '<script>', code.slice(0, 64)])
      expect((await scan(staff, eventA, junk)).result).toBe('INVALID_CODE');
    // the genuine one is untouched by all that
    expect((await scan(staff, eventA, code)).result).toBe('ADMITTED');
  });

  it("another event's ticket is WRONG_EVENT", async () => {
    const { tickets } = await ticketsOf(eventB, 1);
    expect(await scan(staff, eventA, tickets[0]!.code)).toMatchObject({
      result: 'WRONG_EVENT',
      ticketId: tickets[0]!.id,
    });
  });

  it('20 parallel scans of one ticket: exactly one ADMITTED', async () => {
    const { tickets } = await ticketsOf(eventA, 1);
    const callers = await Promise.all(Array.from({ length: 20 }, () => server.callerFor(staff)));
    const results = await Promise.all(callers.map((c) => c.checkin.scan({ eventId: eventA, code: tickets[0]!.code })));
    const kinds = results.map((r) => r.result);
    expect(kinds.filter((k) => k === 'ADMITTED')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'ALREADY_ADMITTED')).toHaveLength(19);
    expect(new Set(results.map((r) => r.checkedInAt)).size).toBe(1);
  });

  it('a plain user gets 403; staff of another event too; over HTTP as well', async () => {
    const { tickets } = await ticketsOf(eventB, 1);
    await expect(scan(plain, eventB, tickets[0]!.code)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(scan(staff, eventB, tickets[0]!.code)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const token = await server.deps.tokens.signAccess(plain);
    const res = await server.http('POST', `/api/checkin/events/${eventB}/scan`, {
      token,
      body: { code: tickets[0]!.code },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
    // nothing was admitted by the refused calls
    expect((await scan(admin, eventB, tickets[0]!.code)).result).toBe('ADMITTED');
  });

  it('staff rights can be revoked', async () => {
    const [temp] = await makeBuyers(server, 1);
    const caller = await server.callerFor(admin);
    await caller.checkin.grantStaff({ eventId: eventB, userId: temp!.id });
    expect(
      (await (await server.callerFor({ id: temp!.id, role: 'user' })).checkin.counts({ eventId: eventB })).eventId,
    ).toBe(eventB);
    const after = await caller.checkin.revokeStaff({ eventId: eventB, userId: temp!.id });
    expect(after.items).toEqual([]);
    await expect(
      (await server.callerFor({ id: temp!.id, role: 'user' })).checkin.counts({ eventId: eventB }),
    ).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
  });
});

describe('offline check-in', () => {
  it('export, verify codes with only the public key, sync 100 scans of which 10 were scanned online: first scan wins, counts balance', async () => {
    const event = await seedEvent(server, { capacity: 100, priceMinor: 0, maxPerUser: 10 });
    await (await server.callerFor(admin)).checkin.grantStaff({ eventId: event, userId: staff.id });
    const codes: string[] = [];
    for (let i = 0; i < 10; i++) codes.push(...(await ticketsOf(event, 10)).tickets.map((t) => t.code));
    expect(codes).toHaveLength(100);

    const door = await server.callerFor(staff);
    const exported = await door.checkin.export({ eventId: event });
    expect(exported.tickets).toHaveLength(100);
    expect(exported.tickets.every((t) => t.status === 'valid' && t.checkedInAt === null)).toBe(true);
    // a scanner's own verification, from the documented format and the public key alone
    const key = createPublicKey({ key: Buffer.from(exported.publicKey, 'base64'), format: 'der', type: 'spki' });
    const known = new Set(exported.tickets.map((t) => t.ticketId));
    for (const code of codes) {
      const bytes = Buffer.from(code, 'base64url');
      expect(bytes.length).toBe(97);
      expect(verify(null, bytes.subarray(0, 33), key, bytes.subarray(33))).toBe(true);
      const hex = bytes.subarray(1, 17).toString('hex');
      const ticketId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      expect(known.has(ticketId)).toBe(true);
    }

    // the door went offline at 18:00; ten of the tickets were also scanned online, at 18:30
    const offlineStart = clock.now().getTime();
    clock.advance(30 * 60_000);
    const onlineAt = clock.now().toISOString();
    for (const code of codes.slice(0, 10)) expect((await scan(admin, event, code)).result).toBe('ADMITTED');
    clock.advance(30 * 60_000);
    // offline scans: the first five of those were scanned offline before 18:30, the next five after
    const scans = codes.map((code, i) => ({
      code,
      scannedAt: new Date(
        offlineStart + (i < 5 ? i * 60_000 : i >= 5 && i < 10 ? 40 * 60_000 : i * 10_000),
      ).toISOString(),
    }));
    const synced = await door.checkin.sync({ eventId: event, scans });
    const kinds = synced.results.map((r) => r.result);
    expect(kinds.slice(0, 5)).toEqual(Array(5).fill('ADMITTED'));
    expect(kinds.slice(5, 10)).toEqual(Array(5).fill('ALREADY_ADMITTED'));
    expect(kinds.slice(10).every((k) => k === 'ADMITTED')).toBe(true);
    // first scan wins: the earlier offline scans replaced the online time, the later ones did not
    expect(synced.results.slice(0, 5).map((r) => r.checkedInAt)).toEqual(scans.slice(0, 5).map((s) => s.scannedAt));
    expect(synced.results.slice(5, 10).every((r) => r.checkedInAt === onlineAt)).toBe(true);
    expect(synced.counts).toEqual({ eventId: event, sold: 100, admitted: 100, toCome: 0, void: 0 });
    expect(synced.counts.admitted + synced.counts.toCome).toBe(synced.counts.sold);

    // syncing the same upload again changes nothing
    const again = await door.checkin.sync({ eventId: event, scans });
    expect(again.results.every((r) => r.result === 'ALREADY_ADMITTED')).toBe(true);
    expect(again.counts).toEqual(synced.counts);
    const after = await door.checkin.export({ eventId: event });
    expect(after.tickets.filter((t) => t.checkedInAt !== null)).toHaveLength(100);
  });

  it('counts: sold, admitted, to come', async () => {
    const event = await seedEvent(server, { capacity: 10, priceMinor: 0 });
    const { tickets } = await ticketsOf(event, 3);
    const caller = await server.callerFor(admin);
    await caller.checkin.scan({ eventId: event, code: tickets[0]!.code });
    expect(await caller.checkin.counts({ eventId: event })).toEqual({
      eventId: event,
      sold: 3,
      admitted: 1,
      toCome: 2,
      void: 0,
    });
  });
});
