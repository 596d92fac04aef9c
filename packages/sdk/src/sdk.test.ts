import { randomUUID } from 'node:crypto';
import { startTestServer, type TestServer } from '@boxoffice/server/testing';
import { pressPayPalButton, seedEvent } from '@boxoffice/server/testing/fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BoxofficeError,
  BoxofficeNetworkError,
  type CheckinCounts,
  type CheckinExport,
  createBoxofficeClient,
  isBoxofficeError,
  memoryTokenStore,
  type ScanResult,
  type StoredTokens,
  type Ticket,
  type TicketList,
  webStorageTokenStore,
} from './index.ts';

const PASSWORD = 'a-long-enough-password';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

function newBuyer() {
  const id = randomUUID().slice(0, 8);
  return { email: `sdk-${id}@example.test`, username: `sdk_${id}`, password: PASSWORD };
}

/** A fetch that records the tRPC procedure of every request it sends. */
function recordingFetch() {
  const calls: string[] = [];
  const fetchImpl: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    calls.push(url.pathname.replace(/^\/trpc\//, ''));
    return fetch(input, init);
  };
  return { calls, fetch: fetchImpl };
}

/** The PayPal order behind a payment link: in the link itself, or where the link redirects to. */
async function payPalOrderOf(paymentUrl: string): Promise<string> {
  let url = new URL(paymentUrl);
  if (!url.searchParams.has('token')) {
    const start = await fetch(url, { redirect: 'manual' });
    url = new URL(start.headers.get('location') as string);
  }
  return url.searchParams.get('token') as string;
}

describe('the SDK, end to end against a real server', () => {
  it('an admin publishes, a buyer registers, finds the event, books, pays and sees it confirmed', async () => {
    const admin = createBoxofficeClient({ baseUrl: server.url });
    await admin.auth.login({ email: 'admin@example.test', password: 'admin-password-123' });
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

    const buyer = createBoxofficeClient({ baseUrl: server.url });
    const account = newBuyer();
    const registered = await buyer.auth.register(account);
    expect(registered.user.email).toBe(account.email);
    expect((await buyer.auth.me.query()).email).toBe(account.email);

    const near = await buyer.events.list.query({ nearLat: 52.5, nearLng: 13.4, radiusKm: 10, sort: 'distance' });
    expect(near.items.map((e) => e.id)).toContain(event.id);
    expect(near.items.find((e) => e.id === event.id)?.distanceKm).toBeLessThan(5);

    const booking = await buyer.bookings.create.mutate({ eventId: event.id, quantity: 2 });
    expect(booking).toMatchObject({ status: 'HELD', totalMinor: 3000, currency: 'EUR' });
    expect(booking.paymentUrl).toMatch(/^http/);

    // a second hold is refused with a typed, machine-readable code
    const refused = await buyer.bookings.create.mutate({ eventId: event.id, quantity: 1 }).catch((e: unknown) => e);
    expect(isBoxofficeError(refused, 'HOLD_ALREADY_OPEN')).toBe(true);
    expect(refused).toMatchObject({ code: 'HOLD_ALREADY_OPEN', status: 409, procedure: 'bookings.create' });

    const orderId = await payPalOrderOf(booking.paymentUrl!);
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

    await buyer.auth.logout();
    const signedOut = await buyer.auth.me.query().catch((e: unknown) => e);
    expect(signedOut).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
  });

  it('reports validation failures as typed errors with field issues', async () => {
    const anonymous = createBoxofficeClient({ baseUrl: server.url });
    const error = await anonymous.auth
      .register({ email: 'not-an-email', username: 'x', password: 'short' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BoxofficeError);
    if (!isBoxofficeError(error)) throw error;
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED', status: 400, procedure: 'auth.register' });
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(['email', 'password', 'username']);
    expect(isBoxofficeError(error, ['SOLD_OUT', 'VALIDATION_FAILED'])).toBe(true);
    expect(isBoxofficeError(error, 'SOLD_OUT')).toBe(false);
  });

  it('a refusal by the HTTP layer (before any procedure runs) is a typed error too', async () => {
    const admin = createBoxofficeClient({ baseUrl: server.url });
    await admin.auth.login({ email: 'admin@example.test', password: 'admin-password-123' });
    const tooLarge = await admin.events.create
      .mutate({
        title: 'x',
        description: 'y'.repeat(100_000),
        venueName: 'v',
        address: 'a',
        startsAt: new Date(Date.now() + 86_400_000).toISOString(),
        timezone: 'UTC',
        priceMinor: 0,
        currency: 'EUR',
        capacity: 1,
      })
      .catch((e: unknown) => e);
    expect(tooLarge).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', status: 413 });
  });

  it('no answer at all is a BoxofficeNetworkError, not a server code', async () => {
    const nowhere = createBoxofficeClient({ baseUrl: 'http://127.0.0.1:9' });
    const error = await nowhere.events.list.query({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BoxofficeNetworkError);
    expect(isBoxofficeError(error)).toBe(false);
  });

  it('sends the extra headers given, static or computed per request', async () => {
    const seen: (string | null)[] = [];
    const client = createBoxofficeClient({
      baseUrl: server.url,
      headers: async () => ({ 'x-request-id': 'sdk-test-request-1' }),
      fetch: async (input, init) => {
        seen.push(new Headers(init?.headers).get('x-request-id'));
        return fetch(input, init);
      },
    });
    await client.events.list.query({ limit: 1 });
    expect(seen).toEqual(['sdk-test-request-1']);
  });
});

describe('bookings.create is idempotent by itself', () => {
  it('sends a generated key and, when the answer is lost, sends the same request again: one booking', async () => {
    const eventId = await seedEvent(server, { capacity: 5 });
    const sent: { key: string; answered: boolean }[] = [];
    let lose = true;
    const client = createBoxofficeClient({
      baseUrl: server.url,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (String(input).includes('bookings.create')) {
          sent.push({ key: JSON.parse(String(init?.body)).idempotencyKey, answered: !lose });
          // the server booked, but the answer never arrives
          if (lose) {
            lose = false;
            throw new TypeError('fetch failed');
          }
        }
        return response;
      },
    });
    await client.auth.register(newBuyer());
    const booking = await client.bookings.create.mutate({ eventId, quantity: 2 });

    expect(sent).toHaveLength(2);
    expect(sent[0]?.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent[1]?.key).toBe(sent[0]?.key);
    expect(booking).toMatchObject({ status: 'HELD', quantity: 2 });
    const rows = await server.sql('SELECT id FROM bookings WHERE event_id = ?', [eventId]);
    expect(rows.map((row) => row.id)).toEqual([booking.id]);
  });

  it('uses the key the caller gives, and gives up after its retries with the network error', async () => {
    const eventId = await seedEvent(server);
    const keys: string[] = [];
    const client = createBoxofficeClient({
      baseUrl: server.url,
      fetch: async (input, init) => {
        if (!String(input).includes('bookings.create')) return fetch(input, init);
        keys.push(JSON.parse(String(init?.body)).idempotencyKey);
        throw new TypeError('fetch failed');
      },
    });
    await client.auth.register(newBuyer());
    const error = await client.bookings.create
      .mutate({ eventId, idempotencyKey: 'checkout-attempt-0001' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BoxofficeNetworkError);
    expect(keys).toEqual(['checkout-attempt-0001', 'checkout-attempt-0001', 'checkout-attempt-0001']);
  });
});

describe('sessions: tokens in the store, refreshed once when they expire', () => {
  // the server's clock moves by hand here, so access tokens can expire mid-test
  let timed: TestServer;
  let offsetMs = 0;
  const clock = {
    now: () => new Date(Date.now() + offsetMs),
    advance: (ms: number) => {
      offsetMs += ms;
    },
  };
  beforeAll(async () => {
    timed = await startTestServer({ clock, shareDatabaseOf: server });
  });
  afterAll(() => timed?.close());

  const accessTokenLifetimeMs = () => timed.deps.config.ACCESS_TOKEN_EXPIRE_MINUTES * 60_000 + 1000;

  it('an access token that expires mid-session is refreshed once and the call succeeds', async () => {
    const { calls, fetch } = recordingFetch();
    const store = memoryTokenStore();
    const client = createBoxofficeClient({ baseUrl: timed.url, fetch, tokenStore: store });
    const account = newBuyer();
    await client.auth.register(account);
    const before = (await store.get()) as StoredTokens;
    expect((await client.auth.me.query()).email).toBe(account.email);

    clock.advance(accessTokenLifetimeMs());
    expect((await client.auth.me.query()).email).toBe(account.email);

    expect(calls).toEqual(['auth.register', 'auth.login', 'auth.me', 'auth.me', 'auth.refresh', 'auth.me']);
    const after = (await store.get()) as StoredTokens;
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.refreshToken).not.toBe(before.refreshToken);
  });

  it('ten parallel calls with an expired access token share one refresh', async () => {
    const { calls, fetch } = recordingFetch();
    const client = createBoxofficeClient({ baseUrl: timed.url, fetch });
    await client.auth.register(newBuyer());
    clock.advance(accessTokenLifetimeMs());

    const results = await Promise.all(Array.from({ length: 10 }, () => client.bookings.listMine.query({ limit: 1 })));
    expect(results).toHaveLength(10);
    expect(calls.filter((call) => call === 'auth.refresh')).toHaveLength(1);
    expect(calls.filter((call) => call === 'bookings.listMine')).toHaveLength(20);
  });

  it('a revoked refresh token ends the session: UNAUTHENTICATED, store cleared, no second refresh', async () => {
    const { calls, fetch } = recordingFetch();
    const store = memoryTokenStore();
    const client = createBoxofficeClient({ baseUrl: timed.url, fetch, tokenStore: store });
    await client.auth.register(newBuyer());
    const tokens = (await store.get()) as StoredTokens;
    // signed out elsewhere (another device): the whole token family is revoked
    expect((await timed.http('POST', '/api/auth/logout', { body: { refreshToken: tokens.refreshToken } })).status).toBe(
      200,
    );
    clock.advance(accessTokenLifetimeMs());

    const ended = await Promise.all(
      [client.auth.me.query(), client.bookings.listMine.query({})].map((p) => p.catch((e) => e)),
    );
    for (const error of ended) {
      expect(error).toBeInstanceOf(BoxofficeError);
      expect(error).toMatchObject({ code: 'UNAUTHENTICATED', status: 401, details: { reason: 'INVALID_TOKEN' } });
    }
    expect(await store.get()).toBeNull();
    expect(calls.filter((call) => call === 'auth.refresh')).toHaveLength(1);

    // signed out now: the next call goes without a token and is simply refused
    const next = await client.auth.me.query().catch((e: unknown) => e);
    expect(next).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(calls.filter((call) => call === 'auth.refresh')).toHaveLength(1);
  });

  it('keeps the session in web storage when given one, across clients (a reload)', async () => {
    const entries = new Map<string, string>();
    const storage = {
      getItem: (key: string) => entries.get(key) ?? null,
      setItem: (key: string, value: string) => void entries.set(key, value),
      removeItem: (key: string) => void entries.delete(key),
    };
    const account = newBuyer();
    const first = createBoxofficeClient({ baseUrl: timed.url, tokenStore: webStorageTokenStore(storage) });
    await first.auth.register(account);
    expect(JSON.parse(entries.get('boxoffice.session') as string)).toMatchObject({
      accessToken: expect.any(String),
      refreshToken: expect.stringMatching(/^rt_/),
    });

    const afterReload = createBoxofficeClient({ baseUrl: timed.url, tokenStore: webStorageTokenStore(storage) });
    expect((await afterReload.auth.me.query()).email).toBe(account.email);
    await afterReload.auth.logout();
    expect(entries.has('boxoffice.session')).toBe(false);

    entries.set('boxoffice.session', '{not json');
    expect(await webStorageTokenStore(storage).get()).toBeNull();
  });
});

describe('tickets and check-in through the SDK', () => {
  it('a buyer reads their tickets and the PDF; door staff scan, export and sync, all typed', async () => {
    const admin = createBoxofficeClient({ baseUrl: server.url });
    await admin.auth.login({ email: 'admin@example.test', password: 'admin-password-123' });
    const eventId = await seedEvent(server, { capacity: 10, priceMinor: 0, title: 'SDK Free Show' });
    const buyer = createBoxofficeClient({ baseUrl: server.url });
    await buyer.auth.register(newBuyer());
    const booking = await buyer.bookings.create.mutate({ eventId, quantity: 2 });
    expect(booking.status).toBe('CONFIRMED');

    const mine: TicketList = await buyer.tickets.listMine.query({ eventId });
    expect(mine.items).toHaveLength(2);
    const named: Ticket = await buyer.tickets.setAttendee.mutate({ ticketId: mine.items[0]!.id, attendeeName: 'Sam' });
    expect(named.attendeeName).toBe('Sam');
    const pdf = await buyer.ticketsPdf(booking.id);
    expect(new TextDecoder().decode(pdf.subarray(0, 5))).toBe('%PDF-');
    const stranger = createBoxofficeClient({ baseUrl: server.url });
    await stranger.auth.register(newBuyer());
    await expect(stranger.ticketsPdf(booking.id)).rejects.toMatchObject({ code: 'BOOKING_NOT_FOUND', status: 404 });
    await expect(stranger.checkin.scan.mutate({ eventId, code: mine.items[0]!.code })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });

    const first: ScanResult = await admin.checkin.scan.mutate({ eventId, code: mine.items[0]!.code });
    expect(first).toMatchObject({ result: 'ADMITTED', attendeeName: 'Sam' });
    expect((await admin.checkin.scan.mutate({ eventId, code: mine.items[0]!.code })).result).toBe('ALREADY_ADMITTED');
    const exported: CheckinExport = await admin.checkin.export.query({ eventId });
    expect(exported.tickets).toHaveLength(2);
    expect(exported.publicKey.length).toBeGreaterThan(40);
    const synced = await admin.checkin.sync.mutate({
      eventId,
      scans: [{ code: mine.items[1]!.code, scannedAt: new Date().toISOString() }],
    });
    expect(synced.results[0]!.result).toBe('ADMITTED');
    const counts: CheckinCounts = await admin.checkin.counts.query({ eventId });
    expect(counts).toEqual({ eventId, sold: 2, admitted: 2, toCome: 0, void: 0 });
  });
});
