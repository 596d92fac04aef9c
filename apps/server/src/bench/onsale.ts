import type pg from 'pg';
import { systemClock } from '../lib/clock.ts';
import { TokenService } from '../modules/auth/tokens.ts';
import type { Child } from './children.ts';
import type { OnSaleResult } from './load-process.ts';
import { countsOf, insertBuyers, insertEvent } from './seed.ts';
import { type ScenarioResult, summarize } from './stats.ts';

/**
 * The on-sale with a waiting room: `buyers` signed-in buyers (inserted in one statement, tokens
 * minted, no password hashing) join an event's waiting room before its opening; at the opening the
 * admission job draws their order and admits them as the tickets allow; each admitted buyer books
 * one ticket (a free event, so a booking is a sale at once) until it sells out and everyone still
 * waiting is told. Reports the time to sell out, the admission rate and the status polls, and
 * checks the outcome in the database: no oversell, nobody admitted twice (one admission sequence),
 * every sold ticket held by a buyer admitted before booking.
 */
export async function onSaleScenario(opts: {
  pool: pg.Pool;
  organizer: string;
  server: { url: string };
  load: Child;
  jwtSecret: string;
  buyers: number;
  tickets: number;
  inFlight: number;
  progress: (label: string) => (p: { done: number; total: number }) => void;
  problems: string[];
}): Promise<ScenarioResult[]> {
  const { pool, server } = opts;
  const eventId = await insertEvent(pool, opts.organizer, {
    title: 'on-sale with waiting room',
    capacity: opts.tickets,
    priceMinor: 0,
    maxPerOrder: 1,
    maxPerUser: 1,
  });
  const tokens = new TokenService({
    jwtSecret: opts.jwtSecret,
    refreshKey: 'unused',
    algorithm: 'HS256',
    accessTtlMinutes: 120,
    refreshTtlDays: 1,
    clock: systemClock,
  });
  const { rows } = await pool.query<{ id: string }>("SELECT id FROM users WHERE role = 'admin' LIMIT 1");
  const admin = await tokens.signAccess({ id: rows[0]?.id as string, role: 'admin' });
  const api = async (method: string, path: string, body: unknown) => {
    const res = await fetch(`${server.url}/api${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  };
  // the opening an hour ahead while buyers join; moved to a few seconds after the last join
  await api('PATCH', `/events/${eventId}`, { salesStartAt: new Date(Date.now() + 3_600_000).toISOString() });
  await api('POST', `/admin/events/${eventId}/waiting-room`, { enabled: true, leadMinutes: 120 });
  const userIds = await insertBuyers(pool, opts.buyers, 'onsale');

  // buyers join, then poll their status (waiting before the opening); the opening is set once all are in
  const opening = { at: 0 };
  const run = opts.load.call<OnSaleResult>(
    'onSale',
    {
      base: server.url,
      eventId,
      jwtSecret: opts.jwtSecret,
      userIds,
      inFlight: opts.inFlight,
      opensAt: Date.now(),
      deadline: Date.now() + 600_000,
    },
    opts.progress('on-sale/waiting-room'),
  );
  // wait until every buyer has joined, then open the sale two seconds later
  for (;;) {
    const { rows: joined } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM queue_entries WHERE event_id = $1',
      [eventId],
    );
    if ((joined[0]?.n ?? 0) >= opts.buyers) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  opening.at = Date.now() + 2_000;
  await api('PATCH', `/events/${eventId}`, { salesStartAt: new Date(opening.at).toISOString() });
  const result = await run;

  const counts = await countsOf(pool, eventId);
  const { rows: admitted } = await pool.query<{
    admissions: number;
    users: number;
    max_no: number | null;
    first: Date | null;
    last: Date | null;
  }>(
    `SELECT count(admission_no)::int AS admissions, count(DISTINCT user_id) FILTER (WHERE admission_no IS NOT NULL)::int AS users,
            max(admission_no) AS max_no, min(admitted_at) AS first, max(admitted_at) AS last
       FROM queue_entries WHERE event_id = $1`,
    [eventId],
  );
  const { rows: unadmitted } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM bookings b
      WHERE b.event_id = $1 AND b.status = 'CONFIRMED' AND NOT EXISTS (
        SELECT 1 FROM queue_entries q WHERE q.event_id = b.event_id AND q.user_id = b.user_id
           AND b.created_at >= q.admitted_at AND b.created_at < q.admission_expires_at)`,
    [eventId],
  );
  const a = admitted[0];
  const oversold = Math.max(
    0,
    counts.sold + counts.held - counts.capacity,
    result.bookings.ticketsTaken - counts.capacity,
  );
  const admittedTwice = (a?.admissions ?? 0) - (a?.users ?? 0);
  const sequenceGaps = (a?.max_no ?? 0) - (a?.admissions ?? 0);
  const notAdmitted = unadmitted[0]?.n ?? 0;
  const soldOut = counts.sold === counts.capacity;
  const balanced =
    counts.available + counts.held + counts.sold === counts.capacity && counts.sold === counts.heldBookings;
  if (oversold > 0) opts.problems.push(`on-sale: ${oversold} tickets oversold`);
  if (admittedTwice !== 0 || sequenceGaps !== 0)
    opts.problems.push(`on-sale: ${admittedTwice} admitted twice, ${sequenceGaps} gaps in the admission sequence`);
  if (notAdmitted > 0) opts.problems.push(`on-sale: ${notAdmitted} tickets sold to buyers without an admission`);
  if (!soldOut || !balanced) opts.problems.push(`on-sale: not sold out or unbalanced: ${JSON.stringify(counts)}`);
  if (result.polls.errors > 0 || result.joins.outcomes.waiting !== opts.buyers)
    opts.problems.push(`on-sale: ${result.polls.errors} failed polls; joins ${JSON.stringify(result.joins.outcomes)}`);

  const sellOutSeconds = (result.lastBookingAt - opening.at) / 1000;
  // admissions per second from the opening to the last admission (the first run admits at the opening)
  const admissionSeconds = a?.last ? Math.max(1, (new Date(a.last).getTime() - opening.at) / 1000) : 1;
  const admissionRate = (a?.admissions ?? 0) / admissionSeconds;
  const firstAdmissionSeconds = a?.first ? (new Date(a.first).getTime() - opening.at) / 1000 : Number.NaN;
  const joins = result.joins;
  const polls = result.polls;
  return [
    {
      name: 'on-sale/join',
      perSecond: Math.round(joins.latencies.length / joins.seconds),
      ...summarize([...joins.latencies]),
      requests: joins.latencies.length,
      errors: joins.latencies.length - (joins.outcomes.waiting ?? 0),
      notes: `${opts.buyers} buyers join before the opening, ${opts.inFlight} in flight`,
    },
    {
      name: 'on-sale/status-poll',
      perSecond: Math.round(polls.latencies.length / polls.seconds),
      ...summarize([...polls.latencies]),
      requests: polls.latencies.length,
      errors: polls.errors,
      notes: `${polls.notModified} answered 304 (If-None-Match); no database write per poll`,
    },
    {
      name: 'on-sale/sell-out',
      perSecond: Math.round(result.bookings.latencies.length / Math.max(sellOutSeconds, 0.001)),
      ...summarize([...result.bookings.latencies]),
      requests: result.bookings.latencies.length,
      errors: Object.entries(result.bookings.outcomes)
        .filter(([kind]) => !['CONFIRMED', 'SOLD_OUT'].includes(kind))
        .reduce((sum, [, n]) => sum + n, 0),
      oversold,
      notes: [
        `sold out ${counts.sold}/${counts.capacity} in ${sellOutSeconds.toFixed(1)} s from the opening`,
        `${a?.admissions ?? 0} admitted at ${admissionRate.toFixed(0)}/s (first ${firstAdmissionSeconds.toFixed(1)} s after the opening, last ${admissionSeconds.toFixed(1)} s)`,
        `admitted twice ${admittedTwice}, sequence gaps ${sequenceGaps}, sold without admission ${notAdmitted}`,
        `final states ${JSON.stringify(result.finalStates)}`,
      ].join('; '),
    },
  ];
}
