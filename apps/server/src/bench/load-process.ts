/**
 * The load generator, in a process of its own so its CPU is not the server's: buyers holding
 * tickets through the tRPC client (the SDK's link) or REST, the raw-SQL hold from a pg pool, whole
 * purchases, and catalogue reads through autocannon. Every task answers with the latency of each
 * request and what each answer was, for the parent to summarise and check against the database.
 */
import http from 'node:http';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import autocannon from 'autocannon';
import pg from 'pg';
import { systemClock } from '../lib/clock.ts';
import { TokenService } from '../modules/auth/tokens.ts';
import type { AppRouter } from '../trpc/root.ts';
import { reportProgress, serveTasks } from './children.ts';

export type PoolResult = {
  latencies: Float64Array;
  /** How many answers of each kind: `HELD`, `SOLD_OUT`, `ok`, `http 500`, ... */
  outcomes: Record<string, number>;
  /** Tickets the answers said were taken. */
  ticketsTaken: number;
  /** The smallest quantity refused as sold out (Infinity when none was). */
  smallestSoldOut: number;
  seconds: number;
};

export type HoldsTask = {
  base: string;
  transport: 'trpc' | 'rest';
  eventId: string;
  jwtSecret: string;
  userIds: string[];
  quantities: number[];
  inFlight: number;
};

export type SqlHoldsTask = {
  url: string;
  form: 'transaction' | 'cte';
  eventId: string;
  userIds: string[];
  quantities: number[];
  inFlight: number;
  poolSize: number;
};

export type PurchasesTask = {
  base: string;
  eventId: string;
  jwtSecret: string;
  userIds: string[];
  inFlight: number;
};

export type ReadsTask = { base: string; paths: string[]; connections: number; seconds: number };

export type ReadsResult = { latencies: Float64Array; requests: number; errors: number; seconds: number };

/** `total` operations, `inFlight` at a time, each answering what it got and how many tickets it took. */
async function runPool(
  total: number,
  inFlight: number,
  op: (i: number) => Promise<{ outcome: string; tickets?: number }>,
  quantities?: number[],
): Promise<PoolResult> {
  const latencies = new Float64Array(total);
  const outcomes: Record<string, number> = {};
  let ticketsTaken = 0;
  let smallestSoldOut = Number.POSITIVE_INFINITY;
  let next = 0;
  let done = 0;
  const ticker = setInterval(() => reportProgress({ done, total }), 500);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(inFlight, total) }, async () => {
      for (let i = next++; i < total; i = next++) {
        const t0 = performance.now();
        const answer = await op(i).catch((error: unknown) => ({
          outcome: `error: ${error instanceof Error ? error.message.slice(0, 60) : String(error)}`,
          tickets: 0,
        }));
        latencies[i] = performance.now() - t0;
        outcomes[answer.outcome] = (outcomes[answer.outcome] ?? 0) + 1;
        ticketsTaken += answer.tickets ?? 0;
        if (answer.outcome === 'SOLD_OUT') smallestSoldOut = Math.min(smallestSoldOut, quantities?.[i] ?? 0);
        done += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(ticker);
  return { latencies, outcomes, ticketsTaken, smallestSoldOut, seconds };
}

async function tokensFor(jwtSecret: string, userIds: string[]): Promise<string[]> {
  const tokens = new TokenService({
    jwtSecret,
    refreshKey: 'unused',
    algorithm: 'HS256',
    accessTtlMinutes: 120,
    refreshTtlDays: 1,
    clock: systemClock,
  });
  return Promise.all(userIds.map((id) => tokens.signAccess({ id, role: 'user' })));
}

type LeanResponse = {
  status: number;
  headers: http.IncomingHttpHeaders;
  text(): Promise<string>;
  json(): Promise<unknown>;
};

const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });

/**
 * What the clients here need of fetch, over node:http with keep-alive connections: the whole body,
 * status and headers, no redirects followed. A third of the CPU of the global fetch per request,
 * and the load generator shares the machine with the server it measures.
 */
function leanFetch(
  url: string | URL,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<LeanResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: init.method ?? 'GET', headers: init.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: async () => text,
          json: async () => JSON.parse(text),
        });
      });
    });
    request.on('error', reject);
    request.end(init.body);
  });
}

/** One typed client per buyer, with the link the SDK uses (on the lean fetch above). */
function trpcClient(base: string, token: string) {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${base}/trpc`,
        maxItems: 10,
        headers: () => ({ authorization: `Bearer ${token}` }),
        fetch: leanFetch as unknown as typeof fetch,
      }),
    ],
  });
}

function codeOf(error: unknown): string {
  if (error instanceof TRPCClientError) return String(error.data?.code ?? `trpc ${error.message.slice(0, 40)}`);
  throw error;
}

async function holds(task: HoldsTask): Promise<PoolResult> {
  const tokens = await tokensFor(task.jwtSecret, task.userIds);
  const quantity = (i: number) => task.quantities[i] as number;
  if (task.transport === 'trpc') {
    const clients = tokens.map((token) => trpcClient(task.base, token));
    return runPool(
      tokens.length,
      task.inFlight,
      async (i) => {
        try {
          const booking = await clients[i]?.bookings.create.mutate({ eventId: task.eventId, quantity: quantity(i) });
          return { outcome: booking?.status ?? 'none', tickets: booking?.quantity ?? 0 };
        } catch (error) {
          return { outcome: codeOf(error) };
        }
      },
      task.quantities,
    );
  }
  const url = `${task.base}/api/events/${task.eventId}/book`;
  return runPool(
    tokens.length,
    task.inFlight,
    async (i) => {
      const res = await leanFetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens[i]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ quantity: quantity(i) }),
      });
      const body = (await res.json()) as { status?: string; quantity?: number; error?: { code: string } };
      if (res.status === 200) return { outcome: body.status ?? 'none', tickets: body.quantity ?? 0 };
      return { outcome: body.error?.code ?? `http ${res.status}` };
    },
    task.quantities,
  );
}

const HOLD_UPDATE = `UPDATE events SET available = available - $2, held = held + $2, updated_at = now()
  WHERE id = $1 AND status = 'published' AND starts_at > now() AND available >= $2 RETURNING price_minor, currency`;
const BOOKING_COLUMNS = `(id, user_id, event_id, quantity, unit_price_minor, total_minor, currency, status, hold_expires_at)`;

/**
 * The ceiling: a hold as plain SQL from a pg pool, nothing else in the way. `transaction` is the
 * one-transaction hold (conditional update, then insert, then commit: the row stays locked across
 * the round trips); `cte` is the same in one statement.
 */
async function sqlHolds(task: SqlHoldsTask): Promise<PoolResult> {
  const pool = new pg.Pool({ connectionString: task.url, max: task.poolSize });
  pool.on('error', () => {});
  try {
    // connections opened before the clock starts, as the server's pool is warm too
    await Promise.all(Array.from({ length: task.poolSize }, () => pool.query('SELECT 1')));
    return await runPool(
      task.userIds.length,
      task.inFlight,
      async (i) => {
        const q = task.quantities[i] as number;
        const params = [task.eventId, q, crypto.randomUUID(), task.userIds[i]];
        if (task.form === 'cte') {
          const { rowCount } = await pool.query(
            `WITH moved AS (${HOLD_UPDATE})
             INSERT INTO bookings ${BOOKING_COLUMNS}
             SELECT $3, $4, $1, $2, price_minor, price_minor * $2, currency, 'HELD', now() + interval '15 minutes' FROM moved`,
            params,
          );
          return rowCount ? { outcome: 'HELD', tickets: q } : { outcome: 'SOLD_OUT' };
        }
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const moved = await client.query<{ price_minor: number; currency: string }>(HOLD_UPDATE, [task.eventId, q]);
          const terms = moved.rows[0];
          if (!terms) {
            await client.query('ROLLBACK');
            return { outcome: 'SOLD_OUT' };
          }
          await client.query(
            `INSERT INTO bookings ${BOOKING_COLUMNS}
             VALUES ($1, $2, $3, $4, $5, $5::int * $4::int, $6, 'HELD', now() + interval '15 minutes')`,
            [params[2], task.userIds[i], task.eventId, q, terms.price_minor, terms.currency],
          );
          await client.query('COMMIT');
          return { outcome: 'HELD', tickets: q };
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw error;
        } finally {
          client.release();
        }
      },
      task.quantities,
    );
  } finally {
    await pool.end();
  }
}

/** Book, follow the payment link to PayPal, approve at the simulator, come back: one purchase. */
async function purchases(task: PurchasesTask): Promise<PoolResult> {
  const tokens = await tokensFor(task.jwtSecret, task.userIds);
  const clients = tokens.map((token) => trpcClient(task.base, token));
  const location = (res: LeanResponse, step: string) => {
    const to = res.headers.location;
    if (res.status !== 303 || !to) throw new Error(`${step} answered ${res.status}`);
    return to;
  };
  return runPool(tokens.length, task.inFlight, async (i) => {
    const booking = await (clients[i] as ReturnType<typeof trpcClient>).bookings.create.mutate({
      eventId: task.eventId,
      quantity: 1,
    });
    const approval = location(await leanFetch(booking.paymentUrl as string), 'start');
    const orderId = new URL(approval).searchParams.get('token') as string;
    const simulator = approval.slice(0, approval.indexOf('/checkoutnow'));
    const back = location(
      await leanFetch(`${simulator}/checkoutnow/approve`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: orderId }).toString(),
      }),
      'approve',
    );
    const settled = await leanFetch(back, { headers: { accept: 'application/json' } });
    const { state } = (await settled.json()) as { state: string };
    return { outcome: state, tickets: state === 'confirmed' ? 1 : 0 };
  });
}

export type OnSaleTask = {
  base: string;
  eventId: string;
  jwtSecret: string;
  userIds: string[];
  inFlight: number;
  /** When the sale opens (epoch ms): buyers start polling then. */
  opensAt: number;
  /** Gives up after this long past the opening (epoch ms). */
  deadline: number;
};

export type OnSaleResult = {
  joins: PoolResult;
  polls: { latencies: Float64Array; notModified: number; seconds: number; errors: number };
  bookings: { outcomes: Record<string, number>; ticketsTaken: number; latencies: Float64Array };
  /** When the last ticket was booked, and when every buyer had a final answer (epoch ms). */
  lastBookingAt: number;
  settledAt: number;
  /** Buyers by their last state seen. */
  finalStates: Record<string, number>;
};

const FINAL_STATES = new Set(['booked', 'expired', 'sold_out', 'closed']);

/**
 * The on-sale with a waiting room: every buyer joins before the opening (REST), then, from the
 * opening, buyers poll their status in turn (`inFlight` requests at a time, each sending the
 * ETag it last got) and book one ticket as soon as they are admitted, until every buyer has a
 * final answer: booked, or told the event sold out.
 */
async function onSale(task: OnSaleTask): Promise<OnSaleResult> {
  const tokens = await tokensFor(task.jwtSecret, task.userIds);
  const queueUrl = `${task.base}/api/events/${task.eventId}/queue`;
  const headersOf = (i: number, etag?: string): Record<string, string> => ({
    authorization: `Bearer ${tokens[i]}`,
    'content-type': 'application/json',
    ...(etag ? { 'if-none-match': etag } : {}),
  });
  const joins = await runPool(tokens.length, task.inFlight, async (i) => {
    const res = await leanFetch(queueUrl, { method: 'POST', headers: headersOf(i), body: '{}' });
    const body = (await res.json()) as { state?: string; error?: { code: string } };
    return { outcome: res.status === 200 ? (body.state ?? 'none') : (body.error?.code ?? `http ${res.status}`) };
  });
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, task.opensAt - Date.now())));

  const etags = new Array<string | undefined>(tokens.length);
  const states = new Array<string>(tokens.length).fill('waiting');
  const pollLatencies: number[] = [];
  const bookingLatencies: number[] = [];
  const outcomes: Record<string, number> = {};
  let notModified = 0;
  let pollErrors = 0;
  let ticketsTaken = 0;
  let lastBookingAt = 0;
  let active = tokens.map((_, i) => i);
  let cursor = 0;
  const started = performance.now();
  const ticker = setInterval(() => reportProgress({ done: tokens.length - active.length, total: tokens.length }), 500);
  const book = async (i: number) => {
    const t0 = performance.now();
    const res = await leanFetch(`${task.base}/api/events/${task.eventId}/book`, {
      method: 'POST',
      headers: headersOf(i),
      body: JSON.stringify({ quantity: 1 }),
    });
    bookingLatencies.push(performance.now() - t0);
    const body = (await res.json()) as { status?: string; quantity?: number; error?: { code: string } };
    const outcome = res.status === 200 ? (body.status ?? 'none') : (body.error?.code ?? `http ${res.status}`);
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    if (res.status === 200) {
      ticketsTaken += body.quantity ?? 0;
      lastBookingAt = Date.now();
      states[i] = 'booked';
    } else if (outcome === 'SOLD_OUT') states[i] = 'sold_out';
  };
  await Promise.all(
    Array.from({ length: task.inFlight }, async () => {
      while (active.length > 0 && Date.now() < task.deadline) {
        // buyers take turns; one that reached a final state leaves the rotation
        const i = active[cursor++ % active.length] as number;
        if (FINAL_STATES.has(states[i] as string)) {
          active = active.filter((j) => !FINAL_STATES.has(states[j] as string));
          continue;
        }
        const t0 = performance.now();
        try {
          const res = await leanFetch(queueUrl, { headers: headersOf(i, etags[i]) });
          pollLatencies.push(performance.now() - t0);
          if (res.status === 304) {
            notModified += 1;
            continue;
          }
          if (res.status !== 200) {
            pollErrors += 1;
            continue;
          }
          etags[i] = res.headers.etag as string | undefined;
          const status = (await res.json()) as { state: string };
          states[i] = status.state;
          if (status.state === 'admitted') await book(i);
        } catch {
          pollErrors += 1;
        }
      }
    }),
  );
  clearInterval(ticker);
  const finalStates: Record<string, number> = {};
  for (const state of states) finalStates[state] = (finalStates[state] ?? 0) + 1;
  return {
    joins,
    polls: {
      latencies: Float64Array.from(pollLatencies),
      notModified,
      seconds: (performance.now() - started) / 1000,
      errors: pollErrors,
    },
    bookings: { outcomes, ticketsTaken, latencies: Float64Array.from(bookingLatencies) },
    lastBookingAt,
    settledAt: Date.now(),
    finalStates,
  };
}

/** Reads through autocannon: `connections` keep-alive connections for `seconds`, paths in turn. */
async function reads(task: ReadsTask): Promise<ReadsResult> {
  const latencies: number[] = [];
  let errors = 0;
  let k = 0;
  const ticker = setInterval(() => reportProgress({ done: latencies.length, total: 0 }), 500);
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: task.base,
        connections: task.connections,
        duration: task.seconds,
        requests: [
          { setupRequest: (request) => ({ ...request, path: task.paths[k++ % task.paths.length] as string }) },
        ],
      },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      latencies.push(ms);
      if (status !== 200) errors += 1;
    });
  });
  clearInterval(ticker);
  return {
    latencies: Float64Array.from(latencies),
    requests: latencies.length,
    errors: errors + result.errors + result.timeouts,
    seconds: result.duration,
  };
}

serveTasks({
  holds: (args) => holds(args as unknown as HoldsTask),
  sqlHolds: (args) => sqlHolds(args as unknown as SqlHoldsTask),
  purchases: (args) => purchases(args as unknown as PurchasesTask),
  reads: (args) => reads(args as unknown as ReadsTask),
  onSale: (args) => onSale(args as unknown as OnSaleTask),
});
