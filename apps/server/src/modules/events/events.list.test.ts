import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../lib/clock.ts';
import { signInAdmin, signUp, startTestServer, type TestServer } from '../../test/harness.ts';

const DAY = 24 * 60 * 60 * 1000;
const clock = manualClock(new Date('2030-03-01T12:00:00.000Z'));
const inDays = (days: number) => new Date(clock.now().getTime() + days * DAY).toISOString();

/** Seeded ids are readable numbers; their uuid order is their numeric order. */
const idOf = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const numberOf = (id: string) => Number(id.slice(-12));

type Seed = {
  n: number;
  title: string;
  description: string;
  venue: string;
  at?: [number, number];
  days: number;
  price: number;
  currency?: string;
  soldOut?: boolean;
  status?: 'draft' | 'published' | 'cancelled';
};

const BERLIN: [number, number] = [52.52, 13.405];

// Inserted out of id order on purpose, so the tie-break is visible and not an accident of storage.
const SEEDS: Seed[] = [
  { n: 5, title: 'Tie C', description: 'Same start', venue: 'Hall C', days: 5, price: 1500 },
  {
    n: 1,
    title: 'Jazz Night',
    description: 'Smooth',
    venue: 'Kulturbrauerei',
    at: [52.539, 13.413],
    days: 2,
    price: 2500,
  },
  {
    n: 2,
    title: 'Rock Concert',
    description: 'Loud guitars',
    venue: 'Lindenpark',
    at: [52.3906, 13.0645],
    days: 3,
    price: 2500,
  },
  { n: 4, title: 'Tie B', description: 'Same start', venue: 'Hall B', at: [52.51, 13.39], days: 5, price: 1000 },
  { n: 3, title: 'Tie A', description: 'Same start', venue: 'Hall A', at: BERLIN, days: 5, price: 1000 },
  {
    n: 6,
    title: 'Opera Gala',
    description: 'Arias',
    venue: 'Nationaltheater',
    at: [48.1394, 11.579],
    days: 4,
    price: 9000,
  },
  {
    n: 7,
    title: 'Harbour Festival',
    description: 'Boats',
    venue: 'Elbphilharmonie',
    at: [53.5413, 9.9841],
    days: 6,
    price: 4000,
    soldOut: true,
  },
  { n: 8, title: 'Poetry Slam', description: 'Words', venue: 'Cafe', days: 7, price: 0 },
  { n: 9, title: 'Yesterday Show', description: 'Gone', venue: 'Old Hall', at: BERLIN, days: -1, price: 2000 },
  {
    n: 10,
    title: 'Secret Draft',
    description: 'Not yet',
    venue: 'Somewhere',
    at: BERLIN,
    days: 8,
    price: 2000,
    status: 'draft',
  },
  {
    n: 11,
    title: 'Called Off',
    description: 'Rained out',
    venue: 'Anywhere',
    at: BERLIN,
    days: 9,
    price: 2000,
    status: 'cancelled',
  },
  { n: 12, title: '100% Fun_Party', description: 'Percent and underscore', venue: 'Club', days: 10, price: 3000 },
  {
    n: 13,
    title: 'NYC Jazz',
    description: 'Across the pond',
    venue: 'Blue Note',
    at: [40.7308, -74.0007],
    days: 11,
    price: 5000,
    currency: 'USD',
  },
  { n: 14, title: 'Same Spot', description: 'Next door', venue: 'Hall A', at: BERLIN, days: 12, price: 1200 },
  // matches the searches for "n_P" and "0% F" only if _ and % were wildcards
  { n: 15, title: 'Fun Party', description: '10 Floors', venue: 'Club', days: 13, price: 6000 },
];

let server: TestServer;
let adminToken: string;
let userToken: string;

beforeAll(async () => {
  server = await startTestServer({ clock });
  const admin = await signInAdmin(server);
  adminToken = admin.accessToken;
  userToken = (await signUp(server)).accessToken;
  for (const seed of SEEDS) {
    const capacity = 50;
    await server.sql(
      `INSERT INTO events (id, title, description, venue_name, address, latitude, longitude, starts_at, timezone,
                           price_minor, currency, capacity, available, held, sold, max_per_order, max_per_user,
                           status, created_by)
       VALUES (?, ?, ?, ?, 'Somewhere 1', ?, ?, ?, 'Europe/Berlin', ?, ?, ?, ?, 0, ?, 10, 10, ?, ?)`,
      [
        idOf(seed.n),
        seed.title,
        seed.description,
        seed.venue,
        seed.at?.[0] ?? null,
        seed.at?.[1] ?? null,
        inDays(seed.days),
        seed.price,
        seed.currency ?? 'EUR',
        capacity,
        seed.soldOut ? 0 : capacity,
        seed.soldOut ? capacity : 0,
        seed.status ?? 'published',
        admin.id,
      ],
    );
  }
});
afterAll(() => server?.close());

async function list(params: Record<string, string | number | boolean>, token?: string) {
  const query = new URLSearchParams(Object.entries(params).map(([key, value]) => [key, String(value)]));
  return server.http('GET', `/api/events?${query}`, token ? { token } : {});
}

async function ids(params: Record<string, string | number | boolean>, token?: string): Promise<number[]> {
  const res = await list(params, token);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.items.map((item: { id: string }) => numberOf(item.id));
}

/** Follows nextCursor to the end; returns the ids of each page. */
async function pages(params: Record<string, string | number | boolean>): Promise<number[][]> {
  const result: number[][] = [];
  let cursor: string | null = null;
  do {
    const res = await list(cursor ? { ...params, cursor } : params);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    result.push(res.body.items.map((item: { id: string }) => numberOf(item.id)));
    cursor = res.body.nextCursor;
  } while (cursor && result.length < 20);
  return result;
}

const UPCOMING_BY_START = [1, 2, 6, 3, 4, 5, 7, 8, 12, 13, 14, 15];

describe('events.list', () => {
  it('lists published upcoming events by start time, ties broken by id', async () => {
    expect(await ids({})).toEqual(UPCOMING_BY_START);
    const res = await list({ limit: 1 });
    expect(res.body.items[0]).toMatchObject({
      id: idOf(1),
      title: 'Jazz Night',
      startsAt: inDays(2),
      latitude: 52.539,
      distanceKm: null,
      available: 50,
    });
  });

  it('pages by cursor across equal start times without skipping or repeating', async () => {
    expect(await pages({ limit: 2 })).toEqual([
      [1, 2],
      [6, 3],
      [4, 5],
      [7, 8],
      [12, 13],
      [14, 15],
    ]);
    expect(await pages({ limit: 5 })).toEqual([
      [1, 2, 6, 3, 4],
      [5, 7, 8, 12, 13],
      [14, 15],
    ]);
  });

  it('sorts by price and pages through equal prices', async () => {
    expect(await pages({ sort: 'price', limit: 3 })).toEqual([
      [8, 3, 4],
      [14, 5, 1],
      [2, 12, 7],
      [13, 15, 6],
    ]);
  });

  it('finds events near a point, nearest first, with their distance', async () => {
    const res = await list({ nearLat: BERLIN[0], nearLng: BERLIN[1], radiusKm: 50, sort: 'distance' });
    expect(res.status).toBe(200);
    const found = res.body.items.map((item: { id: string; distanceKm: number }) => [
      numberOf(item.id),
      item.distanceKm,
    ]);
    expect(found.map(([n]: [number]) => n)).toEqual([3, 14, 4, 1, 2]);
    const distance = Object.fromEntries(found);
    expect(distance[3]).toBe(0);
    expect(distance[14]).toBe(0);
    expect(distance[4]).toBeCloseTo(1.507, 1);
    expect(distance[1]).toBeCloseTo(2.183, 1);
    expect(distance[2]).toBeCloseTo(27.222, 0);
  });

  it('pages by distance, through equal distances, and widens with the radius', async () => {
    const near = { nearLat: BERLIN[0], nearLng: BERLIN[1], sort: 'distance' };
    expect(await pages({ ...near, radiusKm: 50, limit: 1 })).toEqual([[3], [14], [4], [1], [2]]);
    expect(await pages({ ...near, radiusKm: 300, limit: 3 })).toEqual([
      [3, 14, 4],
      [1, 2, 7],
    ]);
    expect(await ids({ nearLat: BERLIN[0], nearLng: BERLIN[1], radiusKm: 50 })).toEqual([1, 2, 3, 4, 14]);
    // the default radius of 25 km leaves Potsdam (27 km) out
    expect(await ids({ nearLat: BERLIN[0], nearLng: BERLIN[1] })).toEqual([1, 3, 4, 14]);
  });

  it('searches title, description and venue, case-insensitively, with % and _ taken literally', async () => {
    expect(await ids({ q: 'JAZZ' })).toEqual([1, 13]);
    expect(await ids({ q: 'kulturbrau' })).toEqual([1]);
    expect(await ids({ q: 'the pond' })).toEqual([13]);
    expect(await ids({ q: '0% F' })).toEqual([12]);
    expect(await ids({ q: 'n_P' })).toEqual([12]);
    expect(await ids({ q: 'fun party' })).toEqual([15]);
    expect(await ids({ q: 'no such thing' })).toEqual([]);
  });

  it('filters by price range, currency and tickets left', async () => {
    expect(await ids({ minPrice: 1000, maxPrice: 2500 })).toEqual([1, 2, 3, 4, 5, 14]);
    expect(await ids({ maxPrice: 0 })).toEqual([8]);
    expect(await ids({ currency: 'USD' })).toEqual([13]);
    expect(await ids({ hasTickets: true })).toEqual(UPCOMING_BY_START.filter((n) => n !== 7));
    expect(await ids({ hasTickets: false })).toEqual([7]);
  });

  it('lists upcoming events unless a date range starts earlier', async () => {
    expect(await ids({ startsAfter: inDays(-2), startsBefore: inDays(3.5) })).toEqual([9, 1, 2]);
    expect(await ids({ startsBefore: inDays(4.5) })).toEqual([1, 2, 6]);
    expect(await ids({ startsAfter: inDays(5) })).toEqual([3, 4, 5, 7, 8, 12, 13, 14, 15]);
  });

  it('shows drafts and cancelled events to admins only', async () => {
    expect(await ids({ status: 'draft' }, adminToken)).toEqual([10]);
    expect(await ids({ status: 'cancelled' }, adminToken)).toEqual([11]);
    for (const token of [undefined, userToken]) {
      const res = await list({ status: 'draft' }, token);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    }
    expect(await ids({}, userToken)).toEqual(UPCOMING_BY_START);
  });

  it('refuses a page size over the cap and contradictory filters with 400 and the field', async () => {
    const cases: [Record<string, string | number>, string][] = [
      [{ limit: 101 }, 'limit'],
      [{ limit: 0 }, 'limit'],
      [{ sort: 'distance' }, 'sort'],
      [{ nearLat: 52.5 }, 'nearLng'],
      [{ radiusKm: 10 }, 'radiusKm'],
      [{ nearLat: 52.5, nearLng: 13.4, radiusKm: 501 }, 'radiusKm'],
      [{ q: 'ab' }, 'q'],
      [{ nearLat: 91, nearLng: 0 }, 'nearLat'],
      [{ minPrice: 500, maxPrice: 100 }, 'maxPrice'],
      [{ startsAfter: inDays(5), startsBefore: inDays(1) }, 'startsBefore'],
      [{ hasTickets: 'yes' }, 'hasTickets'],
      [{ startsAfter: 'tomorrow' }, 'startsAfter'],
    ];
    for (const [params, path] of cases) {
      const res = await list(params);
      expect(res.status, JSON.stringify(params)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details.issues.map((issue: { path: string }) => issue.path)).toEqual([path]);
    }
  });

  it('answers a cursor that is not one of ours with 400 INVALID_CURSOR', async () => {
    const startsAtCursor = (await list({ limit: 1 })).body.nextCursor as string;
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const bad: [Record<string, string>, string][] = [
      [{}, 'not a cursor!'],
      [{}, 'bm90IGpzb24'],
      [{}, forged({ s: 'startsAt', k: '2030-01-01T00:00:00Z' })],
      [{}, forged({ s: 'startsAt', k: 'yesterday', id: idOf(1) })],
      [{}, forged({ s: 'startsAt', k: '2030-01-01T00:00:00Z', id: "1' OR '1'='1" })],
      [{ sort: 'price' }, startsAtCursor],
    ];
    for (const [params, cursor] of bad) {
      const res = await list({ ...params, cursor });
      expect(res.status, cursor).toBe(400);
      expect(res.body.error.code).toBe('INVALID_CURSOR');
    }
  });

  it('works over tRPC with the same input', async () => {
    const input = { nearLat: BERLIN[0], nearLng: BERLIN[1], radiusKm: 50, sort: 'distance', limit: 2 };
    const first = await server.http('GET', `/trpc/events.list?input=${encodeURIComponent(JSON.stringify(input))}`);
    expect(first.status).toBe(200);
    const page = first.body.result.data;
    expect(page.items.map((item: { id: string }) => numberOf(item.id))).toEqual([3, 14]);
    const next = await server.http(
      'GET',
      `/trpc/events.list?input=${encodeURIComponent(JSON.stringify({ ...input, cursor: page.nextCursor }))}`,
    );
    expect(next.body.result.data.items.map((item: { id: string }) => numberOf(item.id))).toEqual([4, 1]);
  });
});
