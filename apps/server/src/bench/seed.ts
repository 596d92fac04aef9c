import { randomUUID } from 'node:crypto';
import type pg from 'pg';

/** Words the catalogue's titles are made of, so a text search finds some events and not others. */
export const TITLE_WORDS = [
  'jazz',
  'opera',
  'techno',
  'string',
  'quartet',
  'piano',
  'night',
  'festival',
  'rock',
  'choir',
  'ballet',
  'comedy',
  'cinema',
  'organ',
  'blues',
  'salsa',
  'tango',
  'brass',
  'folk',
  'reggae',
  'poetry',
  'circus',
  'magic',
  'gospel',
  'swing',
  'funk',
  'metal',
  'punk',
  'indie',
  'soul',
] as const;

/** Where the catalogue's events are: a box over central Europe. */
export const REGION = { lat: [44, 56], lng: [-2, 22] } as const;

/** `n` buyers inserted at once (a throwaway password hash: they never sign in, their tokens are minted). */
export async function insertBuyers(pool: pg.Pool, n: number, prefix: string): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO users (id, email, username, password_hash, role)
     SELECT gen_random_uuid(), $2 || '-' || g || '@bench.example', $2 || g, 'x', 'user' FROM generate_series(1, $1) g
     RETURNING id`,
    [n, `${prefix}-${randomUUID().slice(0, 8)}`],
  );
  return rows.map((row) => row.id);
}

export async function insertOrganizer(pool: pg.Pool): Promise<string> {
  const [id] = await insertBuyers(pool, 1, 'organizer');
  return id as string;
}

export type EventSpec = {
  title: string;
  capacity: number;
  priceMinor: number;
  maxPerOrder: number;
  maxPerUser: number;
};

export async function insertEvent(pool: pg.Pool, organizer: string, spec: EventSpec): Promise<string> {
  const id = randomUUID();
  await pool.query(
    `INSERT INTO events (id, title, description, venue_name, address, latitude, longitude, starts_at, timezone,
                         price_minor, currency, capacity, available, max_per_order, max_per_user, status, created_by)
     VALUES ($1, $2, 'The one everybody wants', 'Arena', '1 Main St, Berlin', 52.52, 13.405,
             now() + interval '30 days', 'Europe/Berlin', $3, 'EUR', $4, $4, $5, $6, 'published', $7)`,
    [id, spec.title, spec.priceMinor, spec.capacity, spec.maxPerOrder, spec.maxPerUser, organizer],
  );
  return id;
}

/**
 * The catalogue: `n` events in one statement (generate_series), mostly published and upcoming,
 * with titles from TITLE_WORDS, prices in three currencies and coordinates across REGION (a few
 * without). Then ANALYZE, as a database that has lived a while would have statistics.
 */
export async function insertCatalog(pool: pg.Pool, organizer: string, n: number): Promise<void> {
  await pool.query(
    `INSERT INTO events (id, title, description, venue_name, address, latitude, longitude, starts_at, timezone,
                         price_minor, currency, capacity, available, max_per_order, max_per_user, status, created_by)
     SELECT gen_random_uuid(),
            initcap(w[1 + (g * 7) % cardinality(w)]) || ' ' || w[1 + (g * 13) % cardinality(w)] || ' #' || g,
            'An evening of ' || w[1 + (g * 17) % cardinality(w)] || ' and ' || w[1 + (g * 19) % cardinality(w)],
            'Hall ' || (g % 500),
            g || ' Example Street',
            CASE WHEN g % 50 = 0 THEN NULL ELSE $3::float8 + random() * ($4::float8 - $3::float8) END,
            CASE WHEN g % 50 = 0 THEN NULL ELSE $5::float8 + random() * ($6::float8 - $5::float8) END,
            now() + (1 + g % 365) * interval '1 day' + (g % 1440) * interval '1 minute',
            'Europe/Berlin',
            CASE WHEN g % 10 = 0 THEN 0 ELSE 500 + (g * 37) % 20000 END,
            (ARRAY['EUR', 'EUR', 'EUR', 'USD', 'GBP'])[1 + g % 5],
            100 + g % 5000, 100 + g % 5000, 10, 10,
            CASE WHEN g % 40 = 0 THEN 'draft' WHEN g % 97 = 0 THEN 'cancelled' ELSE 'published' END,
            $2
       FROM generate_series(1, $1) g, (SELECT $7::text[] AS w) words`,
    [n, organizer, REGION.lat[0], REGION.lat[1], REGION.lng[0], REGION.lng[1], [...TITLE_WORDS]],
  );
  await pool.query('ANALYZE events, bookings');
}

export async function publishedEventIds(pool: pg.Pool, limit: number): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    "SELECT id FROM events WHERE status = 'published' AND starts_at > now() ORDER BY random() LIMIT $1",
    [limit],
  );
  return rows.map((row) => row.id);
}

export type Counts = { capacity: number; available: number; held: number; sold: number; heldBookings: number };

/** The event's counts and the tickets its HELD and CONFIRMED bookings account for. */
export async function countsOf(pool: pg.Pool, eventId: string): Promise<Counts> {
  const { rows } = await pool.query<Counts>(
    `SELECT capacity, available, held, sold,
            (SELECT coalesce(sum(quantity), 0)::int FROM bookings WHERE event_id = $1 AND status IN ('HELD', 'CONFIRMED'))
              AS "heldBookings"
       FROM events WHERE id = $1`,
    [eventId],
  );
  return rows[0] as Counts;
}
