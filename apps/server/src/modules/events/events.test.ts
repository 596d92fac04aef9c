import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../lib/clock.ts';
import { type FakeGoogleGeocoder, startFakeGoogleGeocoder } from '../../test/fake-google-geocoder.ts';
import { signInAdmin, signUp, startTestServer, type TestServer } from '../../test/harness.ts';

const DAY = 24 * 60 * 60 * 1000;
const clock = manualClock(new Date('2030-03-01T12:00:00.000Z'));
const inDays = (days: number) => new Date(clock.now().getTime() + days * DAY).toISOString();

let fake: FakeGoogleGeocoder;
let server: TestServer;
let admin: { id: string; accessToken: string };
let user: Awaited<ReturnType<typeof signUp>>;

beforeAll(async () => {
  fake = await startFakeGoogleGeocoder({ slowMs: 3_000 });
  server = await startTestServer({
    clock,
    env: { GOOGLE_MAPS_API_KEY: 'test-key', GOOGLE_MAPS_BASE_URL: fake.endpoint, GEOCODER_TIMEOUT_MS: '300' },
  });
  admin = await signInAdmin(server);
  user = await signUp(server);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});
beforeEach(() => {
  fake.fault = null;
});

function eventInput(overrides: Record<string, unknown> = {}) {
  return {
    title: 'Jazz at the Square',
    description: 'An evening of jazz',
    venueName: 'Open-air stage',
    address: 'Alexanderplatz 1, 10178 Berlin',
    startsAt: inDays(7),
    endsAt: inDays(7.125),
    timezone: 'Europe/Berlin',
    priceMinor: 2500,
    currency: 'EUR',
    capacity: 100,
    ...overrides,
  };
}

const createEvent = (body: unknown, token = admin.accessToken) => server.http('POST', '/api/events', { body, token });
const countEvents = async () => (await server.sql<{ n: number }>('SELECT count(*)::int AS n FROM events'))[0]?.n;
const issuePaths = (body: { error: { details: { issues: { path: string }[] } } }) =>
  body.error.details.issues.map((issue) => issue.path).sort();

/** Seeds tickets as bookings would leave them, keeping the CHECK invariant. */
async function setCounts(eventId: string, counts: { available: number; held: number; sold: number }) {
  await server.sql('UPDATE events SET available = ?, held = ?, sold = ? WHERE id = ?', [
    counts.available,
    counts.held,
    counts.sold,
    eventId,
  ]);
}

async function insertBooking(eventId: string, userId: string, status: 'HELD' | 'CONFIRMED', quantity: number) {
  const id = randomUUID();
  await server.sql(
    `INSERT INTO bookings (id, user_id, event_id, quantity, unit_price_minor, total_minor, currency, status, hold_expires_at)
     VALUES (?, ?, ?, ?, 2500, ?, 'EUR', ?, ?)`,
    [id, userId, eventId, quantity, 2500 * quantity, status, inDays(0.01)],
  );
  return id;
}

describe('events.create', () => {
  it('geocodes the address through Google and starts with every ticket available', async () => {
    fake.requests.length = 0;
    const res = await createEvent(eventInput());
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      title: 'Jazz at the Square',
      address: 'Alexanderplatz 1, 10178 Berlin',
      formattedAddress: 'Alexanderplatz 1, 10178 Berlin, Germany',
      latitude: 52.5219,
      longitude: 13.4132,
      placeId: expect.stringMatching(/^ChIJ/),
      startsAt: inDays(7),
      timezone: 'Europe/Berlin',
      priceMinor: 2500,
      currency: 'EUR',
      capacity: 100,
      available: 100,
      held: 0,
      sold: 0,
      maxPerOrder: 10,
      maxPerUser: 10,
      status: 'published',
      version: 1,
      distanceKm: null,
    });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.params).toEqual({ address: 'Alexanderplatz 1, 10178 Berlin', key: 'test-key' });

    const got = await server.http('GET', `/api/events/${res.body.id}`);
    expect(got).toMatchObject({ status: 200, body: { id: res.body.id, latitude: 52.5219 } });
    const availability = await server.http('GET', `/api/events/${res.body.id}/availability`);
    expect(availability).toMatchObject({
      status: 200,
      body: { eventId: res.body.id, capacity: 100, available: 100, held: 0, sold: 0, status: 'published' },
    });
  });

  it('pays for an address once: the same address in another spelling is served from the cache', async () => {
    fake.requests.length = 0;
    const first = await createEvent(eventInput({ address: 'Marienplatz 1, 80331 München' }));
    const second = await createEvent(eventInput({ address: '  marienplatz 1,   80331 MÜNCHEN ' }));
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ latitude: first.body.latitude, longitude: first.body.longitude });
    expect(fake.requests).toHaveLength(1);
    const cached = await server.sql('SELECT status FROM geocode_cache WHERE address_key = ?', [
      'marienplatz 1, 80331 münchen',
    ]);
    expect(cached).toEqual([{ status: 'OK' }]);
  });

  it('answers an unknown address with 400 ADDRESS_NOT_FOUND, and remembers that too', async () => {
    fake.requests.length = 0;
    const before = await countEvents();
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await createEvent(eventInput({ address: 'Nowhere Street 404, Atlantis' }));
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'ADDRESS_NOT_FOUND', details: { field: 'address' } });
    }
    expect(fake.requests).toHaveLength(1);
    expect(await countEvents()).toBe(before);
  });

  it.each(['REQUEST_DENIED', 'OVER_QUERY_LIMIT', 'HTTP_500', 'SLOW'] as const)(
    'answers 503 GEOCODER_UNAVAILABLE and writes nothing when Google fails with %s',
    async (fault) => {
      fake.fault = fault;
      fake.requests.length = 0;
      const before = await countEvents();
      const started = performance.now();
      const res = await createEvent(eventInput({ address: `Jungfernstieg 1, 20354 Hamburg (${fault})` }));
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('GEOCODER_UNAVAILABLE');
      expect(JSON.stringify(res.body)).not.toContain('test-key');
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(fake.requests).toHaveLength(1);
      expect(await countEvents()).toBe(before);
      const cached = await server.sql('SELECT count(*)::int AS n FROM geocode_cache WHERE address_key LIKE ?', [
        `%(${fault.toLowerCase()})`,
      ]);
      expect(cached[0]?.n).toBe(0);
    },
  );

  it('sends an address with @, # and line breaks to the configured host only, as a query parameter', async () => {
    fake.requests.length = 0;
    const address = 'evil.example@attacker.example/#x\r\nHost: evil.example';
    const res = await createEvent(eventInput({ address }));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('ADDRESS_NOT_FOUND');
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({
      host: new URL(fake.url).host,
      path: '/maps/api/geocode/json',
      params: { address, key: 'test-key' },
    });
  });

  it('takes coordinates given with the address instead of paying for geocoding', async () => {
    fake.requests.length = 0;
    const res = await createEvent(eventInput({ address: 'Somewhere only we know', latitude: 50.1, longitude: 8.7 }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ latitude: 50.1, longitude: 8.7, formattedAddress: null, placeId: null });
    expect(fake.requests).toHaveLength(0);
  });

  it('is for admins only: 401 without a token, 403 FORBIDDEN for a plain user', async () => {
    const before = await countEvents();
    const anonymous = await server.http('POST', '/api/events', { body: eventInput() });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('UNAUTHENTICATED');
    const plain = await createEvent(eventInput(), user.accessToken);
    expect(plain.status).toBe(403);
    expect(plain.body.error.code).toBe('FORBIDDEN');
    expect(await countEvents()).toBe(before);
  });

  it('answers bad fields with 400 VALIDATION_FAILED naming each field', async () => {
    const res = await createEvent({
      title: '',
      venueName: 'Hall',
      address: 'Alexanderplatz 1, 10178 Berlin',
      startsAt: 'next friday',
      timezone: 'Mars/Olympus_Mons',
      priceMinor: 12.5,
      currency: 'eur',
      capacity: 0,
      maxPerOrder: 0,
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(issuePaths(res.body)).toEqual([
      'capacity',
      'currency',
      'maxPerOrder',
      'priceMinor',
      'startsAt',
      'timezone',
      'title',
    ]);
  });

  it('checks fields against each other', async () => {
    const res = await createEvent(
      eventInput({ endsAt: inDays(6), maxPerOrder: 8, maxPerUser: 4, latitude: 52.5, startsAt: inDays(7) }),
    );
    expect(res.status).toBe(400);
    expect(issuePaths(res.body)).toEqual(['endsAt', 'longitude', 'maxPerOrder']);
  });

  it('lowers the default per-order limit to a lower per-user limit', async () => {
    const res = await createEvent(eventInput({ maxPerUser: 2 }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ maxPerUser: 2, maxPerOrder: 2 });
  });

  it('refuses a price whose largest order would overflow an order total, and a currency PayPal does not take', async () => {
    const before = await countEvents();
    const huge = await createEvent(eventInput({ priceMinor: 100_000_000, maxPerOrder: 30, maxPerUser: 30 }));
    expect(huge.status).toBe(400);
    expect(issuePaths(huge.body)).toEqual(['priceMinor']);
    const xyz = await createEvent(eventInput({ currency: 'XYZ' }));
    expect(xyz.status).toBe(400);
    expect(issuePaths(xyz.body)).toEqual(['currency']);
    expect(await countEvents()).toBe(before);
  });

  it('refuses numbers sent as strings, such as an empty price', async () => {
    const res = await createEvent(eventInput({ priceMinor: '', capacity: '100' }));
    expect(res.status).toBe(400);
    expect(issuePaths(res.body)).toEqual(['capacity', 'priceMinor']);
  });

  it('answers an event in the past with 400 EVENT_IN_PAST without geocoding', async () => {
    fake.requests.length = 0;
    const res = await createEvent(eventInput({ startsAt: inDays(-1), endsAt: undefined }));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('EVENT_IN_PAST');
    expect(fake.requests).toHaveLength(0);
  });

  it('stores the time zone in its canonical spelling', async () => {
    const res = await createEvent(eventInput({ timezone: 'america/new_york', latitude: 40.7, longitude: -74 }));
    expect(res.status).toBe(200);
    expect(res.body.timezone).toBe('America/New_York');
  });
});

describe('events.update', () => {
  let eventId: string;
  beforeEach(async () => {
    const res = await createEvent(eventInput());
    eventId = res.body.id;
  });
  const patch = (body: unknown, token = admin.accessToken) =>
    server.http('PATCH', `/api/events/${eventId}`, { body, token });

  it('changes only the fields given', async () => {
    const res = await patch({ title: 'Late Jazz', priceMinor: 3000 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      title: 'Late Jazz',
      priceMinor: 3000,
      description: 'An evening of jazz',
      capacity: 100,
      latitude: 52.5219,
      version: 2,
    });
  });

  it('leaves existing bookings at the price they were made at', async () => {
    const bookingId = await insertBooking(eventId, user.id, 'CONFIRMED', 2);
    await setCounts(eventId, { available: 98, held: 0, sold: 2 });
    expect((await patch({ priceMinor: 9900, currency: 'USD' })).status).toBe(200);
    const [booking] = await server.sql('SELECT unit_price_minor, total_minor, currency FROM bookings WHERE id = ?', [
      bookingId,
    ]);
    expect(booking).toEqual({ unit_price_minor: 2500, total_minor: 5000, currency: 'EUR' });
  });

  it('grows capacity, and shrinks it only down to the tickets held plus sold', async () => {
    await setCounts(eventId, { available: 95, held: 3, sold: 2 });
    const below = await patch({ capacity: 4 });
    expect(below.status).toBe(409);
    expect(below.body.error).toMatchObject({ code: 'CAPACITY_BELOW_RESERVED', details: { held: 3, sold: 2 } });

    const exact = await patch({ capacity: 5 });
    expect(exact.status).toBe(200);
    expect(exact.body).toMatchObject({ capacity: 5, available: 0, held: 3, sold: 2 });

    const grown = await patch({ capacity: 150 });
    expect(grown.body).toMatchObject({ capacity: 150, available: 145, held: 3, sold: 2 });
    const [row] = await server.sql<{ ok: boolean }>(
      'SELECT available + held + sold = capacity AS ok FROM events WHERE id = ?',
      [eventId],
    );
    expect(row?.ok).toBe(true);
  });

  it('geocodes a new address, and takes explicit coordinates or their removal', async () => {
    const moved = await patch({ address: 'Jungfernstieg 1, 20354 Hamburg' });
    expect(moved.body).toMatchObject({ latitude: 53.5526, longitude: 9.9936, formattedAddress: expect.any(String) });
    const pinned = await patch({ latitude: 53.55, longitude: 10 });
    expect(pinned.body).toMatchObject({ latitude: 53.55, longitude: 10, formattedAddress: null });
    const cleared = await patch({ latitude: null, longitude: null });
    expect(cleared.body).toMatchObject({ latitude: null, longitude: null });
    const half = await patch({ latitude: 1 });
    expect(half.status).toBe(400);
    expect(issuePaths(half.body)).toEqual(['longitude']);
  });

  it('checks the merged event: no start in the past, no end before the start', async () => {
    const past = await patch({ startsAt: inDays(-2) });
    expect(past.status).toBe(400);
    expect(past.body.error.code).toBe('EVENT_IN_PAST');
    const backwards = await patch({ endsAt: inDays(1) });
    expect(backwards.status).toBe(400);
    expect(backwards.body.error.code).toBe('VALIDATION_FAILED');
    expect(issuePaths(backwards.body)).toEqual(['endsAt']);
    const limits = await patch({ maxPerOrder: 20 });
    expect(issuePaths(limits.body)).toEqual(['maxPerOrder']);
  });

  it('is for admins only and 404s an unknown event', async () => {
    expect((await patch({ title: 'Mine now' }, user.accessToken)).status).toBe(403);
    expect((await server.http('PATCH', `/api/events/${eventId}`, { body: { title: 'x' } })).status).toBe(401);
    const missing = await server.http('PATCH', `/api/events/${randomUUID()}`, {
      body: { title: 'x' },
      token: admin.accessToken,
    });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('EVENT_NOT_FOUND');
  });
});

describe('events.cancel', () => {
  it('cancels, releases open holds in the same transaction and refunds confirmed bookings by a job', async () => {
    const { body: event } = await createEvent(eventInput({ capacity: 20 }));
    const holder = await signUp(server, 'holder');
    const held = await insertBooking(event.id, holder.id, 'HELD', 3);
    const confirmed = await insertBooking(event.id, user.id, 'CONFIRMED', 2);
    await setCounts(event.id, { available: 15, held: 3, sold: 2 });

    const res = await server.http('POST', `/api/events/${event.id}/cancel`, { token: admin.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: event.id,
      status: 'cancelled',
      capacity: 20,
      available: 18,
      held: 0,
      sold: 2,
      refundsDue: 1,
    });
    await server.worker.runDue(); // the refund job: a booking with no money behind it gets its tickets back

    const bookings = await server.sql<{ id: string; status: string; cancelled: boolean }>(
      'SELECT id, status, cancelled_at IS NOT NULL AS cancelled FROM bookings WHERE event_id = ? ORDER BY status',
      [event.id],
    );
    expect(bookings).toEqual([
      { id: held, status: 'CANCELLED', cancelled: true },
      { id: confirmed, status: 'REFUNDED', cancelled: false },
    ]);
    const [row] = await server.sql('SELECT available, held, sold, capacity, status FROM events WHERE id = ?', [
      event.id,
    ]);
    expect(row).toEqual({ available: 20, held: 0, sold: 0, capacity: 20, status: 'cancelled' });

    const again = await server.http('POST', `/api/events/${event.id}/cancel`, { token: admin.accessToken });
    expect(again).toMatchObject({ status: 200, body: { status: 'cancelled', available: 20, held: 0, refundsDue: 0 } });

    const edit = await server.http('PATCH', `/api/events/${event.id}`, {
      body: { title: 'Back on' },
      token: admin.accessToken,
    });
    expect(edit.status).toBe(409);
    expect(edit.body.error.code).toBe('EVENT_NOT_EDITABLE');
    const availability = await server.http('GET', `/api/events/${event.id}/availability`);
    expect(availability.body).toEqual({
      eventId: event.id,
      capacity: 20,
      available: 20,
      held: 0,
      sold: 0,
      status: 'cancelled',
    });
  });

  it('is for admins only', async () => {
    const { body: event } = await createEvent(eventInput());
    const plain = await server.http('POST', `/api/events/${event.id}/cancel`, { token: user.accessToken });
    expect(plain.status).toBe(403);
    expect((await server.http('POST', `/api/events/${event.id}/cancel`)).status).toBe(401);
    expect((await server.http('GET', `/api/events/${event.id}`)).body.status).toBe('published');
  });
});

describe('events.get', () => {
  it('hides drafts from everyone but admins', async () => {
    const { body: draft } = await createEvent(eventInput({ status: 'draft' }));
    expect(draft.status).toBe('draft');
    for (const token of [undefined, user.accessToken]) {
      const res = await server.http('GET', `/api/events/${draft.id}`, token ? { token } : {});
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('EVENT_NOT_FOUND');
      expect((await server.http('GET', `/api/events/${draft.id}/availability`, token ? { token } : {})).status).toBe(
        404,
      );
    }
    const asAdmin = await server.http('GET', `/api/events/${draft.id}`, { token: admin.accessToken });
    expect(asAdmin).toMatchObject({ status: 200, body: { id: draft.id, status: 'draft' } });
  });

  it('answers 404 EVENT_NOT_FOUND for an unknown id, 400 for a malformed one, 401 for a bad token', async () => {
    const missing = await server.http('GET', `/api/events/${randomUUID()}`);
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'EVENT_NOT_FOUND' } } });
    const malformed = await server.http('GET', '/api/events/not-a-uuid');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('VALIDATION_FAILED');
    const badToken = await server.http('GET', `/api/events/${randomUUID()}`, { token: 'not-a-jwt' });
    expect(badToken.status).toBe(401);
    expect(badToken.body.error.code).toBe('INVALID_TOKEN');
  });
});

describe('over tRPC', () => {
  it('creates, reads and lists through the same procedures', async () => {
    const created = await server.http('POST', '/trpc/events.create', {
      body: eventInput({ title: 'Via tRPC', address: 'Alexanderplatz 1, 10178 Berlin' }),
      token: admin.accessToken,
    });
    expect(created.status).toBe(200);
    const event = created.body.result.data;
    expect(event).toMatchObject({ title: 'Via tRPC', latitude: 52.5219, available: 100 });

    const input = encodeURIComponent(JSON.stringify({ q: 'via trpc', hasTickets: true, limit: 5 }));
    const listed = await server.http('GET', `/trpc/events.list?input=${input}`);
    expect(listed.status).toBe(200);
    expect(listed.body.result.data).toEqual({ items: [event], nextCursor: null });

    const forbidden = await server.http('POST', '/trpc/events.create', { body: eventInput(), token: user.accessToken });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.data).toMatchObject({ code: 'FORBIDDEN', httpStatus: 403 });
  });
});

describe('REST description', () => {
  it('lists the event routes and their query parameters in the OpenAPI document', async () => {
    const { status, body } = await server.http('GET', '/openapi.json');
    expect(status).toBe(200);
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining([
        '/events',
        '/events/{eventId}',
        '/events/{eventId}/availability',
        '/events/{eventId}/cancel',
      ]),
    );
    expect(Object.keys(body.paths['/events'])).toEqual(expect.arrayContaining(['get', 'post']));
    expect(Object.keys(body.paths['/events/{eventId}'])).toEqual(expect.arrayContaining(['get', 'patch']));
    const params = Object.fromEntries(
      body.paths['/events'].get.parameters.map((param: { name: string; schema: unknown }) => [
        param.name,
        param.schema,
      ]),
    );
    expect(params).toMatchObject({
      hasTickets: { type: 'boolean' },
      nearLat: { type: 'number' },
      limit: { type: 'integer', maximum: 100 },
      sort: { enum: ['startsAt', 'price', 'distance'] },
    });
  });
});

describe('without a Google Maps key', () => {
  let plain: TestServer;
  let token: string;
  beforeAll(async () => {
    plain = await startTestServer({ clock });
    token = (await signInAdmin(plain)).accessToken;
  });
  afterAll(() => plain?.close());

  it('takes coordinates from the input or leaves them empty, never inventing any', async () => {
    fake.requests.length = 0;
    const given = await plain.http('POST', '/api/events', {
      body: eventInput({ latitude: 52.52, longitude: 13.405 }),
      token,
    });
    expect(given.body).toMatchObject({ latitude: 52.52, longitude: 13.405 });
    const none = await plain.http('POST', '/api/events', { body: eventInput(), token });
    expect(none.status).toBe(200);
    expect(none.body).toMatchObject({ latitude: null, longitude: null, formattedAddress: null, placeId: null });
    expect(fake.requests).toHaveLength(0);
  });
});
