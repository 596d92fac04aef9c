import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectBalanced, makeBuyers, seedEvent } from './test/fixtures.ts';
import { type HttpResult, type LooseJson, startTestServer, type TestServer } from './test/harness.ts';

// PostgreSQL restarts, failovers and operators' pg_terminate_backend all look like this to the
// server: connections die under running transactions. It must come back on its own.

const ACQUIRE_TIMEOUT_MS = 1500;
const STATEMENT_TIMEOUT_MS = 2500;
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 1000;

/** A request that gives up (status 0) instead of hanging the test when the server never answers. */
async function call(
  server: TestServer,
  method: string,
  path: string,
  init: { token?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<HttpResult & { ms: number }> {
  const started = performance.now();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  try {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(init.timeoutMs ?? 20_000),
    });
    const text = await response.text();
    let body: LooseJson = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep the text
    }
    return { status: response.status, headers: response.headers, body, ms: performance.now() - started };
  } catch {
    return { status: 0, headers: new Headers(), body: undefined, ms: performance.now() - started };
  }
}

async function sideClient(server: TestServer): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: server.databaseUrl });
  await client.connect();
  return client;
}

/** Terminates every backend of the test database but the caller's own; returns how many. */
async function killBackends(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ killed: boolean }>(
    `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid()`,
  );
  return rows.filter((row) => row.killed).length;
}

async function waitUntilReady(server: TestServer, withinMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < withinMs) {
    const ready = await call(server, 'GET', '/readyz', { timeoutMs: 1000 });
    if (ready.status === 200) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`/readyz not 200 within ${withinMs} ms`);
}

describe('killed database connections', () => {
  let server: TestServer;
  let side: pg.Client;
  beforeAll(async () => {
    server = await startTestServer({
      env: {
        DATABASE_POOL_MAX: '8',
        DATABASE_ACQUIRE_TIMEOUT_MS: String(ACQUIRE_TIMEOUT_MS),
        DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
        DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: String(IDLE_IN_TRANSACTION_TIMEOUT_MS),
      },
    });
    side = await sideClient(server);
  });
  afterAll(async () => {
    await side?.end();
    await server?.close();
  });

  it('a burst of bookings while every backend is killed five times: the pool recovers by itself', async () => {
    const eventId = await seedEvent(server, { capacity: 1000, maxPerOrder: 4 });
    const buyers = await makeBuyers(server, 160);
    let killed = 0;
    const burst = Promise.all(
      buyers.map((buyer, i) =>
        call(server, 'POST', `/api/events/${eventId}/book`, { token: buyer.token, body: { quantity: (i % 4) + 1 } }),
      ),
    );
    for (let round = 0; round < 5; round++) {
      await new Promise((resolve) => setTimeout(resolve, 40));
      killed += await killBackends(side);
    }
    const results = await burst;
    expect(killed).toBeGreaterThan(0);
    // every request was answered: none hung on a connection the pool had lost
    expect(results.filter((r) => r.status === 0)).toHaveLength(0);
    const recoveredMs = await waitUntilReady(server, 10_000);
    console.log(
      `db-faults: ${killed} backends killed, ${results.filter((r) => r.status === 200).length}/${results.length} bookings held, /readyz 200 again after ${Math.round(recoveredMs)} ms`,
    );
    expect(recoveredMs).toBeLessThan(5000);

    const fresh = await makeBuyers(server, 20);
    const after = await Promise.all(
      fresh.map((buyer) =>
        call(server, 'POST', `/api/events/${eventId}/book`, { token: buyer.token, body: { quantity: 1 } }),
      ),
    );
    expect(after.map((r) => r.status)).toEqual(fresh.map(() => 200));
    await expectBalanced(server, eventId);

    for (const failed of results.filter((r) => r.status !== 200)) {
      // a killed transaction is the database's fault, said so in a code a client can retry on
      expect(failed.status, JSON.stringify(failed.body)).toBe(503);
      expect(failed.body.error.code).toBe('DATABASE_UNAVAILABLE');
    }
  }, 60_000);

  it('a stuck transaction cannot hold the event row lock for long', async () => {
    const eventId = await seedEvent(server, { capacity: 10 });
    const [first, second] = await makeBuyers(server, 2);
    // a server transaction that stalls between statements (a hung call, a bug) while holding the row
    const stalled = server.deps.orm.em
      .fork()
      .transactional(async (tx) => {
        await tx.execute('SELECT 1 FROM events WHERE id = ? FOR UPDATE', [eventId]);
        await new Promise((resolve) => setTimeout(resolve, 4000));
        await tx.execute('SELECT 1');
      })
      .then(
        () => 'committed',
        () => 'aborted',
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const behindStalled = await call(server, 'POST', `/api/events/${eventId}/book`, {
      token: first?.token,
      body: { quantity: 1 },
    });
    expect(behindStalled.status, JSON.stringify(behindStalled.body)).toBe(200);
    expect(behindStalled.ms).toBeLessThan(STATEMENT_TIMEOUT_MS);
    expect(await stalled).toBe('aborted');

    // a lock held from outside the server: the waiting booking gives up after the statement timeout
    await side.query('BEGIN');
    await side.query('SELECT 1 FROM events WHERE id = $1 FOR UPDATE', [eventId]);
    try {
      const waiting = await call(server, 'POST', `/api/events/${eventId}/book`, {
        token: second?.token,
        body: { quantity: 1 },
      });
      expect(waiting.status).toBe(503);
      expect(waiting.body.error.code).toBe('DATABASE_UNAVAILABLE');
      expect(waiting.ms).toBeLessThan(STATEMENT_TIMEOUT_MS + 1500);
    } finally {
      await side.query('ROLLBACK');
    }
    await expectBalanced(server, eventId);
  }, 30_000);
});

describe('an exhausted pool', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      env: { DATABASE_POOL_MAX: '2', DATABASE_ACQUIRE_TIMEOUT_MS: String(ACQUIRE_TIMEOUT_MS) },
    });
  });
  afterAll(() => server?.close());

  it('a database route answers 503 DATABASE_UNAVAILABLE within the acquire timeout instead of hanging', async () => {
    // both connections busy for longer than any caller should wait
    const sleepers = [server.sql('SELECT pg_sleep(4)'), server.sql('SELECT pg_sleep(4)')];
    await new Promise((resolve) => setTimeout(resolve, 200));

    const [events, overTrpc, ready, health, metrics] = await Promise.all([
      call(server, 'GET', '/api/events', { timeoutMs: 10_000 }),
      call(server, 'GET', '/trpc/events.list?input=%7B%7D', { timeoutMs: 10_000 }),
      call(server, 'GET', '/readyz', { timeoutMs: 10_000 }),
      call(server, 'GET', '/healthz', { timeoutMs: 10_000 }),
      call(server, 'GET', '/metrics', { timeoutMs: 10_000 }),
    ]);
    expect(events.status).toBe(503);
    expect(events.body.error.code).toBe('DATABASE_UNAVAILABLE');
    expect(events.headers.get('retry-after')).toBeTruthy();
    expect(events.ms).toBeLessThan(ACQUIRE_TIMEOUT_MS + 1000);
    // the SDK's transport says the same: 503 with the code, not a 500
    expect(overTrpc.status).toBe(503);
    expect(overTrpc.body.error.data.code).toBe('DATABASE_UNAVAILABLE');
    expect(ready.status).toBe(503);
    expect(ready.ms).toBeLessThan(ACQUIRE_TIMEOUT_MS + 1000);
    expect(health.status).toBe(200);
    // whatever the gauges that need the database say, the scrape itself is answered
    expect(metrics.status).not.toBe(0);
    expect(metrics.ms).toBeLessThan(ACQUIRE_TIMEOUT_MS + 1000);

    await Promise.all(sleepers);
    expect((await call(server, 'GET', '/api/events')).status).toBe(200);
    expect((await call(server, 'GET', '/readyz')).status).toBe(200);
  }, 30_000);
});
