import { randomUUID } from 'node:crypto';
import { startTestServer, type TestServer } from '@boxoffice/server/testing';
import { pressPayPalButton } from '@boxoffice/server/testing/fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBoxofficeClient, errorCodeOf, isBoxofficeError } from './index.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

describe('the SDK, end to end against a real server', () => {
  it('an admin publishes, a buyer registers, finds the event, books, pays and sees it confirmed', async () => {
    let adminToken: string | undefined;
    const admin = createBoxofficeClient({ baseUrl: server.url, accessToken: () => adminToken });
    const session = await admin.auth.login.mutate({ email: 'admin@example.test', password: 'admin-password-123' });
    adminToken = session.accessToken;
    const event = await admin.events.create.mutate({
      title: 'SDK Jazz Night',
      venueName: 'Blue Room',
      address: 'Hauptstraße 1, Berlin',
      latitude: 52.52,
      longitude: 13.405,
      startsAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      timezone: 'Europe/Berlin',
      priceMinor: 1500,
      currency: 'EUR',
      capacity: 3,
    });
    expect(event).toMatchObject({ available: 3, held: 0, sold: 0, status: 'published' });

    let buyerToken: string | undefined;
    const buyer = createBoxofficeClient({ baseUrl: server.url, accessToken: () => buyerToken });
    const email = `sdk-${randomUUID()}@example.test`;
    await buyer.auth.register.mutate({ email, username: 'sdk_buyer', password: 'a-long-enough-password' });
    buyerToken = (await buyer.auth.login.mutate({ email, password: 'a-long-enough-password' })).accessToken;
    expect((await buyer.auth.me.query()).email).toBe(email);

    const near = await buyer.events.list.query({ nearLat: 52.5, nearLng: 13.4, radiusKm: 10, sort: 'distance' });
    expect(near.items.map((e) => e.id)).toContain(event.id);
    expect(near.items.find((e) => e.id === event.id)?.distanceKm).toBeLessThan(5);

    const booking = await buyer.bookings.create.mutate({
      eventId: event.id,
      quantity: 2,
      idempotencyKey: randomUUID(),
    });
    expect(booking).toMatchObject({ status: 'HELD', totalMinor: 3000, currency: 'EUR' });
    expect(booking.paymentUrl).toContain('/paypal-sim/checkoutnow?token=');

    // a second hold is refused with a typed, machine-readable code
    const refused = await buyer.bookings.create
      .mutate({ eventId: event.id, quantity: 1 })
      .catch((error: unknown) => error);
    expect(errorCodeOf(refused)).toBe('HOLD_ALREADY_OPEN');

    const orderId = new URL(booking.paymentUrl!).searchParams.get('token') as string;
    const returnUrl = await pressPayPalButton(server, orderId, 'approve');
    const confirmation = await fetch(returnUrl, { headers: { accept: 'application/json' } });
    expect(await confirmation.json()).toMatchObject({ state: 'confirmed' });

    expect(await buyer.bookings.get.query({ bookingId: booking.id })).toMatchObject({
      status: 'CONFIRMED',
      paymentUrl: null,
    });
    expect(await buyer.events.availability.query({ eventId: event.id })).toMatchObject({
      available: 1,
      held: 0,
      sold: 2,
    });
    const mine = await buyer.bookings.listMine.query({ limit: 10 });
    expect(mine.items.map((b) => b.id)).toEqual([booking.id]);
  });

  it('reports validation failures with field paths', async () => {
    const anonymous = createBoxofficeClient({ baseUrl: server.url });
    const error = await anonymous.auth.register
      .mutate({ email: 'not-an-email', username: 'x', password: 'short' })
      .catch((e: unknown) => e);
    expect(errorCodeOf(error)).toBe('VALIDATION_FAILED');
    expect(isBoxofficeError(error)).toBe(true);
    const details = isBoxofficeError(error) ? (error.data?.details as { issues: { path: string }[] }) : undefined;
    expect(details?.issues.map((i) => i.path).sort()).toEqual(['email', 'password', 'username']);
  });
});
