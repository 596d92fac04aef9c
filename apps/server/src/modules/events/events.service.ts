import { createHash, randomUUID } from 'node:crypto';
import {
  type Availability,
  type CreateEventInput,
  DomainError,
  type EventCancellation,
  type EventDto,
  type EventPage,
  type EventSort,
  eventFieldIssues,
  type FieldIssue,
  type ListEventsInput,
  NEAR_RADIUS_KM_DEFAULT,
  type RefundProgress,
  type UpdateEventInput,
} from '@boxoffice/contracts';
import { type EntityManager, Event } from '@boxoffice/db';
import { LockMode } from '@mikro-orm/core';
import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import { decodeCursor, encodeCursor } from '../../lib/cursor.ts';
import type { AuthUser } from '../auth/tokens.ts';
import { openingInventory, releaseEventHolds, resizeInventory } from '../inventory/ledger.ts';
import { followSalesStart } from '../onsale/waiting-room.service.ts';
import { withdrawEventTickets } from '../tickets/tickets.service.ts';
import { addressKey, geocodeCached } from './geocode-cache.ts';
import type { Geocoder } from './geocoder.ts';

/**
 * What cancelling an event asks of payments, injected at the composition root: a refund (and the
 * job that carries it out) for every confirmed booking, in the cancellation's transaction, and how
 * far those refunds have come.
 */
export type EventRefundPort = {
  scheduleEventRefunds(em: EntityManager, eventId: string, now: Date): Promise<number>;
  refundProgress(em: EntityManager, eventId: string): Promise<RefundProgress>;
};

export type EventsDeps = {
  em: EntityManager;
  clock: Clock;
  geocoder: Geocoder | null;
  refunds?: EventRefundPort | null;
};

/** Who is asking: null for an anonymous caller of a public procedure. */
export type Viewer = AuthUser | null;

const isAdmin = (viewer: Viewer) => viewer?.role === 'admin';

const eventNotFound = () => new DomainError('EVENT_NOT_FOUND', 'No such event');
const eventNotEditable = () => new DomainError('EVENT_NOT_EDITABLE', 'A cancelled event cannot be changed');

type Location = {
  latitude: number | null;
  longitude: number | null;
  formattedAddress: string | null;
  placeId: string | null;
};

const iso = (value: Date | string) => new Date(value).toISOString();

/**
 * Coordinates for an address: explicit ones win (and cost nothing); otherwise the geocoder, when
 * configured; otherwise none. Never a guess.
 */
async function locate(
  deps: EventsDeps,
  address: string,
  given: { latitude?: number | null; longitude?: number | null },
): Promise<Location> {
  if (given.latitude != null && given.longitude != null)
    return { latitude: given.latitude, longitude: given.longitude, formattedAddress: null, placeId: null };
  if (!deps.geocoder) return { latitude: null, longitude: null, formattedAddress: null, placeId: null };
  const found = await geocodeCached(deps.em, deps.geocoder, address, deps.clock.now());
  if (!found)
    throw new DomainError('ADDRESS_NOT_FOUND', 'The address could not be found; check it or give coordinates', {
      field: 'address',
    });
  return found;
}

function assertFuture(startsAt: Date, now: Date) {
  if (startsAt.getTime() <= now.getTime())
    throw new DomainError('EVENT_IN_PAST', 'startsAt must be in the future', { field: 'startsAt' });
}

export async function createEvent(deps: EventsDeps, actor: AuthUser, input: CreateEventInput): Promise<EventDto> {
  const startsAt = new Date(input.startsAt);
  // checked before geocoding, so a doomed request costs no geocoder call
  assertFuture(startsAt, deps.clock.now());
  const location = await locate(deps, input.address, input);
  const event = deps.em.create(Event, {
    id: randomUUID(),
    title: input.title,
    description: input.description,
    venueName: input.venueName,
    address: input.address,
    ...location,
    startsAt,
    endsAt: input.endsAt ? new Date(input.endsAt) : null,
    salesStartAt: input.salesStartAt ? new Date(input.salesStartAt) : null,
    salesEndAt: input.salesEndAt ? new Date(input.salesEndAt) : null,
    timezone: input.timezone,
    priceMinor: input.priceMinor,
    currency: input.currency,
    ...openingInventory(input.capacity),
    maxPerOrder: input.maxPerOrder,
    maxPerUser: input.maxPerUser,
    status: input.status,
    createdBy: actor.id,
  });
  await deps.em.flush();
  return readEvent(deps.em, event.id, deps.clock.now()) as Promise<EventDto>;
}

export async function updateEvent(deps: EventsDeps, input: UpdateEventInput): Promise<EventDto> {
  const before = await deps.em.fork().findOne(Event, { id: input.eventId });
  if (!before) throw eventNotFound();
  if (before.status === 'cancelled') throw eventNotEditable();
  // geocoding happens before the row lock: a slow geocoder must not block bookings for this event
  let relocated: Location | undefined;
  if (input.latitude !== undefined || input.longitude !== undefined)
    relocated = {
      latitude: input.latitude ?? null,
      longitude: input.longitude ?? null,
      formattedAddress: null,
      placeId: null,
    };
  else if (input.address !== undefined && addressKey(input.address) !== addressKey(before.address))
    relocated = await locate(deps, input.address, {});

  const now = deps.clock.now();
  return deps.em.transactional(async (em) => {
    // the lock keeps bookings from moving tickets between reading held + sold and writing capacity
    const event = await em.findOne(Event, { id: input.eventId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!event) throw eventNotFound();
    if (event.status === 'cancelled') throw eventNotEditable();
    // optimistic check under the lock: the caller's edit was made against what it read, which still stands
    if (input.version !== undefined && input.version !== event.version)
      throw new DomainError(
        'EVENT_VERSION_CONFLICT',
        `The event has changed since version ${input.version} (it is at version ${event.version}); read it again`,
        { version: event.version },
      );

    if (input.title !== undefined) event.title = input.title;
    if (input.description !== undefined) event.description = input.description;
    if (input.venueName !== undefined) event.venueName = input.venueName;
    if (input.address !== undefined) event.address = input.address;
    if (relocated) Object.assign(event, relocated);
    if (input.startsAt !== undefined) {
      const startsAt = new Date(input.startsAt);
      if (startsAt.getTime() !== event.startsAt.getTime()) assertFuture(startsAt, now);
      event.startsAt = startsAt;
    }
    if (input.endsAt !== undefined) event.endsAt = input.endsAt === null ? null : new Date(input.endsAt);
    if (input.salesStartAt !== undefined)
      event.salesStartAt = input.salesStartAt === null ? null : new Date(input.salesStartAt);
    if (input.salesEndAt !== undefined)
      event.salesEndAt = input.salesEndAt === null ? null : new Date(input.salesEndAt);
    if (input.timezone !== undefined) event.timezone = input.timezone;
    // bookings carry their own unit price and currency, so a new price touches only new bookings
    if (input.priceMinor !== undefined) event.priceMinor = input.priceMinor;
    if (input.currency !== undefined) event.currency = input.currency;
    if (input.maxPerOrder !== undefined) event.maxPerOrder = input.maxPerOrder;
    if (input.maxPerUser !== undefined) event.maxPerUser = input.maxPerUser;
    if (input.status !== undefined) event.status = input.status;

    const issues = eventFieldIssues({
      startsAt: iso(event.startsAt),
      endsAt: event.endsAt ? iso(event.endsAt) : null,
      salesStartAt: event.salesStartAt ? iso(event.salesStartAt) : null,
      salesEndAt: event.salesEndAt ? iso(event.salesEndAt) : null,
      maxPerOrder: event.maxPerOrder,
      maxPerUser: event.maxPerUser,
      priceMinor: event.priceMinor,
    });
    if (issues.length) {
      const details: FieldIssue[] = issues.map((issue) => ({
        path: issue.path.join('.'),
        message: issue.message,
        code: 'custom',
      }));
      throw new DomainError('VALIDATION_FAILED', `Invalid input: ${details.map((d) => d.path).join(', ')}`, {
        issues: details,
      });
    }
    await em.flush();
    // a waiting room's admission job starts at the opening, wherever it moves
    if (input.salesStartAt !== undefined) await followSalesStart(em, event.id, now);
    if (input.capacity !== undefined) {
      const resized = await resizeInventory(em, event.id, input.capacity, now);
      if (!resized.ok)
        throw new DomainError(
          'CAPACITY_BELOW_RESERVED',
          `Capacity cannot go below the ${resized.held + resized.sold} tickets held or sold`,
          { field: 'capacity', held: resized.held, sold: resized.sold },
        );
    }
    return readEvent(em, event.id, now) as Promise<EventDto>;
  });
}

/**
 * Cancels the event: releases its open holds and schedules a refund for every confirmed booking,
 * all in one transaction, so a cancelled event has no buyer left with neither tickets nor money
 * coming back. Answers with how many refunds this call scheduled. Cancelling twice changes nothing.
 */
export async function cancelEvent(
  deps: Pick<EventsDeps, 'em' | 'clock' | 'refunds'>,
  eventId: string,
): Promise<EventCancellation> {
  const now = deps.clock.now();
  return deps.em.transactional(async (em) => {
    // bookings take the same row lock to move tickets, so none can be held or confirmed between these statements
    const event = await em.findOne(Event, { id: eventId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!event) throw eventNotFound();
    let refundsDue = 0;
    if (event.status !== 'cancelled') {
      // a buyer may be paying right now: the ledger schedules a reconcile job that refunds them
      await releaseEventHolds(em, eventId, now);
      refundsDue = (await deps.refunds?.scheduleEventRefunds(em, eventId, now)) ?? 0;
      // tickets admit no one from now on, and each holder is told once
      await withdrawEventTickets(em, eventId, now);
      event.status = 'cancelled';
      await em.flush();
    }
    return { ...((await readEvent(em, eventId, now)) as EventDto), refundsDue };
  });
}

/** How far the refunds of an event's bookings have come (admin). */
export async function getRefundProgress(
  deps: Pick<EventsDeps, 'em' | 'refunds'>,
  eventId: string,
): Promise<RefundProgress> {
  const [row] = await deps.em.execute<{ id: string }[]>('SELECT id FROM events WHERE id = ?', [eventId]);
  if (!row) throw eventNotFound();
  if (!deps.refunds) return { eventId, refunds: 0, refunded: 0, pending: 0, failed: 0 };
  return deps.refunds.refundProgress(deps.em, eventId);
}

export async function getEvent(
  { em, clock }: Pick<EventsDeps, 'em' | 'clock'>,
  viewer: Viewer,
  eventId: string,
): Promise<EventDto> {
  const event = await readEvent(em, eventId, clock.now());
  // drafts do not exist for the public
  if (!event || (event.status === 'draft' && !isAdmin(viewer))) throw eventNotFound();
  return event;
}

export async function getAvailability(
  deps: Pick<EventsDeps, 'em' | 'clock'>,
  viewer: Viewer,
  eventId: string,
): Promise<Availability> {
  const event = await getEvent(deps, viewer, eventId);
  return {
    eventId: event.id,
    capacity: event.capacity,
    available: event.available,
    held: event.held,
    sold: event.sold,
    status: event.status,
  };
}

/** Must stay the exact expression of `events_search_idx`, or the trigram index cannot serve ILIKE. */
const SEARCH_TEXT = `(title || ' ' || description || ' ' || venue_name)`;

const CursorKeySchemas = {
  startsAt: z.iso.datetime({ offset: true }),
  price: z.number().int(),
  distance: z.number().min(0),
} satisfies Record<EventSort, z.ZodType>;

/** A cursor belongs to one sort order; reusing it with another would skip or repeat rows. */
const cursorSchema = (sort: EventSort) =>
  z.strictObject({ s: z.literal(sort), k: CursorKeySchemas[sort], id: z.uuid() });

type EventRow = {
  id: string;
  title: string;
  description: string;
  venue_name: string;
  address: string;
  formatted_address: string | null;
  latitude: number | null;
  longitude: number | null;
  place_id: string | null;
  starts_at: Date | string;
  ends_at: Date | string | null;
  sales_start_at: Date | string | null;
  sales_end_at: Date | string | null;
  timezone: string;
  price_minor: number;
  currency: string;
  capacity: number;
  available: number;
  held: number;
  sold: number;
  max_per_order: number;
  max_per_user: number;
  status: EventDto['status'];
  version: number;
  created_at: Date | string;
  updated_at: Date | string;
  distance_m: number | null;
  /** Tickets in holds that lapsed but whose expiry job has not run yet: they count as available. */
  lapsed: number;
  /** The value ORDER BY sorts on, exactly as PostgreSQL has it, for the next page's cursor. */
  sort_key: string | number;
};

function rowToDto(row: EventRow): EventDto {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    venueName: row.venue_name,
    address: row.address,
    formattedAddress: row.formatted_address,
    latitude: row.latitude,
    longitude: row.longitude,
    placeId: row.place_id,
    startsAt: iso(row.starts_at),
    endsAt: row.ends_at === null ? null : iso(row.ends_at),
    salesStartAt: row.sales_start_at === null ? null : iso(row.sales_start_at),
    salesEndAt: row.sales_end_at === null ? null : iso(row.sales_end_at),
    timezone: row.timezone,
    priceMinor: row.price_minor,
    currency: row.currency,
    capacity: row.capacity,
    available: row.available + row.lapsed,
    held: row.held - row.lapsed,
    sold: row.sold,
    maxPerOrder: row.max_per_order,
    maxPerUser: row.max_per_user,
    status: row.status,
    version: row.version,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    distanceKm: row.distance_m === null ? null : Math.round(row.distance_m) / 1000,
  };
}

const EVENT_COLUMNS = `id, title, description, venue_name, address, formatted_address, latitude, longitude, place_id,
  starts_at, ends_at, sales_start_at, sales_end_at, timezone, price_minor, currency, capacity, available, held, sold,
  max_per_order, max_per_user, status, version, created_at, updated_at`;

/**
 * A hold past its expiry is not live even before its job ran, so its tickets count as available.
 * Looked for only where tickets are held at all, so most rows of a page cost nothing extra.
 */
const lapsedTickets = (now: Date): Fragment =>
  fragment(
    `(CASE WHEN events.held = 0 THEN 0 ELSE (SELECT coalesce(sum(b.quantity), 0)::int FROM bookings b
       WHERE b.event_id = events.id AND b.status = 'HELD' AND b.hold_expires_at <= ?) END)`,
    now,
  );

/**
 * Runs a read of the catalogue on the pool, with its parameters bound (inside a transaction, an
 * admin's write reading the event back, on the transaction's connection). With `prepared` it is a
 * named prepared statement: PostgreSQL parses and plans the query once per connection instead of on
 * every read (about 180 µs of its CPU per event page on the benchmark machine, more than the query
 * itself). Only for a statement whose plan does not depend on its values: the lists are planned
 * for each request, as a plan made for unknown filter values can be far worse (a price range
 * planned blind sorted 12,000 rows where the right plan reads 21).
 */
async function readRows<T>(em: EntityManager, sql: string, params: unknown[], prepared: boolean): Promise<T[]> {
  if (em.isInTransaction()) return em.execute<T[]>(sql, params as never[]);
  let n = 0;
  const text = sql.replace(/\?/g, () => `$${++n}`);
  const pool = await em.getConnection().getNativeClient();
  if (!prepared) return (await pool.query(text, params)).rows as T[];
  let name = preparedNames.get(text);
  if (!name) {
    name = `catalog_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    preparedNames.set(text, name);
  }
  return (await pool.query({ name, text, values: params })).rows as T[];
}
const preparedNames = new Map<string, string>();

/**
 * One event as the API shows it, in one statement that writes nothing: the availability (lapsed
 * holds counted as available) comes with the row.
 */
async function readEvent(em: EntityManager, eventId: string, now: Date): Promise<EventDto | null> {
  const lapsed = lapsedTickets(now);
  const [row] = await readRows<EventRow>(
    em,
    `SELECT ${EVENT_COLUMNS}, ${lapsed.text} AS lapsed, NULL::float8 AS distance_m, NULL AS sort_key
       FROM events WHERE id = ?`,
    [...lapsed.params, eventId],
    true,
  );
  return row ? rowToDto(row) : null;
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (char) => `\\${char}`);

/** A piece of SQL with its `?` parameters, so pieces compose without counting placeholders. */
type Fragment = { text: string; params: unknown[] };
const fragment = (text: string, ...params: unknown[]): Fragment => ({ text, params });

/**
 * Public catalogue with keyset pagination: the page after a cursor is `(sort key, id) > cursor`,
 * which the (status, sort key, id) indexes of migration 0002 answer without an OFFSET scan.
 */
export async function listEvents(
  deps: Pick<EventsDeps, 'em' | 'clock'>,
  viewer: Viewer,
  input: ListEventsInput,
): Promise<EventPage> {
  if (input.status !== 'published' && !isAdmin(viewer))
    throw new DomainError('FORBIDDEN', 'Only admins may list draft or cancelled events', { field: 'status' });
  const cursor = input.cursor ? decodeCursor(input.cursor, cursorSchema(input.sort)) : undefined;

  let distance = fragment('NULL::float8');
  let chord = fragment('NULL::float8');
  let near: { radiusM: number; knn: boolean } | undefined;
  const where: Fragment[] = [fragment('status = ?', input.status)];
  if (input.nearLat !== undefined && input.nearLng !== undefined) {
    const { nearLat, nearLng } = input;
    near = { radiusM: (input.radiusKm ?? NEAR_RADIUS_KM_DEFAULT) * 1000, knn: input.sort === 'distance' };
    distance = fragment('earth_distance(ll_to_earth(?, ?), ll_to_earth(latitude, longitude))', nearLat, nearLng);
    // the straight line through the earth orders exactly like the great circle, and the GiST
    // index can hand rows out in that order (KNN), so "nearest first" never sorts the whole circle
    chord = fragment('ll_to_earth(latitude, longitude) <-> ll_to_earth(?, ?)', nearLat, nearLng);
    where.push(fragment('latitude IS NOT NULL'));
    // sorted otherwise: earth_box(...) @> ll_to_earth(...) is the cube search the GiST index
    // events_location_idx answers (no PostGIS here); the box is a little larger than the circle, so
    // earth_distance trims its corners
    if (!near.knn)
      where.push(
        fragment('earth_box(ll_to_earth(?, ?), ?) @> ll_to_earth(latitude, longitude)', nearLat, nearLng, near.radiusM),
        fragment(`${distance.text} <= ?`, ...distance.params, near.radiusM),
      );
  }
  // upcoming only, unless the caller says where the range starts
  where.push(
    input.startsAfter ? fragment('starts_at >= ?', input.startsAfter) : fragment('starts_at > ?', deps.clock.now()),
  );
  if (input.startsBefore) where.push(fragment('starts_at < ?', input.startsBefore));
  if (input.q) where.push(fragment(`${SEARCH_TEXT} ILIKE ?`, `%${escapeLike(input.q)}%`));
  if (input.minPrice !== undefined) where.push(fragment('price_minor >= ?', input.minPrice));
  if (input.maxPrice !== undefined) where.push(fragment('price_minor <= ?', input.maxPrice));
  if (input.currency) where.push(fragment('currency = ?', input.currency));
  const now = deps.clock.now();
  const lapsed = lapsedTickets(now);
  if (input.hasTickets !== undefined)
    where.push(
      fragment(input.hasTickets ? `(available > 0 OR ${lapsed.text} > 0)` : `available + ${lapsed.text} = 0`, now),
    );

  const sortKey = { startsAt: fragment('starts_at'), price: fragment('price_minor'), distance: chord }[input.sort];
  // starts_at as text keeps its microseconds, which a JS Date would round away
  const sortKeyOut =
    input.sort === 'startsAt'
      ? fragment(`to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`)
      : sortKey;
  if (cursor) {
    const cast = { startsAt: 'timestamptz', price: 'integer', distance: 'float8' }[input.sort];
    where.push(fragment(`(${sortKey.text}, id) > (?::${cast}, ?::uuid)`, ...sortKey.params, cursor.k, cursor.id));
  }

  const select = `SELECT ${EVENT_COLUMNS}, ${lapsed.text} AS lapsed, ${distance.text} AS distance_m,
                         ${sortKeyOut.text} AS sort_key
                    FROM events
                   WHERE ${where.map((part) => part.text).join(' AND ')}
                   ORDER BY ${sortKey.text}, id
                   LIMIT ?`;
  const params = [
    ...lapsed.params,
    ...distance.params,
    ...sortKeyOut.params,
    ...where.flatMap((part) => part.params),
    ...sortKey.params,
    input.limit + 1,
  ];
  // nearest first: the GiST index hands rows out in distance order (KNN) and the scan stops after
  // one page; the radius is applied to that page, which is exact because the page is in distance
  // order. (With the radius as an index condition, cube's fixed 0.1% selectivity estimate makes the
  // planner bitmap-scan the whole circle and sort it: ~45 ms for 500 km over 100k events.)
  const rows = near?.knn
    ? await readRows<EventRow>(
        deps.em,
        `SELECT * FROM (${select}) nearest WHERE distance_m <= ? ORDER BY sort_key, id`,
        [...params, near.radiusM],
        false,
      )
    : await readRows<EventRow>(deps.em, select, params, false);
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    items: page.map(rowToDto),
    nextCursor:
      rows.length > input.limit && last ? encodeCursor({ s: input.sort, k: last.sort_key, id: last.id }) : null,
  };
}
