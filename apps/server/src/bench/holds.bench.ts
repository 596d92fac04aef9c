/**
 * Hold throughput on one hot event, in the same run against its baselines:
 *   - raw SQL ceiling: the hold transaction straight through `pg`, two ways (the conditional UPDATE
 *     the server uses, and SELECT ... FOR UPDATE then UPDATE);
 *   - the full server over HTTP (REST), and a bare node:http server on the same load generator.
 * Usage: pnpm bench [--ops 2000] [--concurrency 20]. Uses an embedded PostgreSQL, or BENCH_DATABASE_URL
 * pointing at an empty scratch database (the benchmark empties its tables between phases).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createOrm, migrate, startEmbeddedPostgres } from '@boxoffice/db';
import { migrateJobQueue } from '@boxoffice/db/job-queue';
import pg from 'pg';
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { createBooking } from '../modules/bookings/bookings.service.ts';
import { startServer } from '../server.ts';
import { type LoadResult, printTable, runLoad } from './load.ts';

const { values } = parseArgs({
  // `pnpm bench -- --ops 10` hands the script a leading `--`
  args: process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--')),
  options: { ops: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '20' } },
});
const OPS = Number(values.ops);
const CONCURRENCY = Number(values.concurrency);

async function main() {
  let url = process.env.BENCH_DATABASE_URL;
  let cleanup = async () => {};
  if (!url) {
    const dir = await mkdtemp(path.join(tmpdir(), 'boxoffice-bench-'));
    const db = await startEmbeddedPostgres({ dataDir: dir, database: 'bench', persistent: false });
    url = db.url;
    cleanup = async () => {
      await db.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  try {
    const orm = await createOrm({ url, poolMax: 2 });
    await migrate(orm);
    await migrateJobQueue(orm);
    await orm.close(true);
    const pool = new pg.Pool({ connectionString: url, max: CONCURRENCY });
    const [{ n } = { n: 0 }] = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM users')).rows;
    if (process.env.BENCH_DATABASE_URL && n > 0) {
      await pool.end();
      throw new Error(
        'BENCH_DATABASE_URL must point at an empty scratch database: it has users, and the benchmark empties its tables',
      );
    }
    // idle connections die when the database stops at the end; that is not a failure
    pool.on('error', () => {});
    const results = await runAll(pool, url).finally(() => pool.end());
    console.log(
      `\nholds on one hot event: ${OPS} operations, ${CONCURRENCY} in flight, PostgreSQL ${url.includes('127.0.0.1') ? 'on loopback' : ''}\n`,
    );
    printTable(results);
  } finally {
    await cleanup();
  }
}

async function seed(pool: pg.Pool, users: number): Promise<{ eventId: string; userIds: string[] }> {
  await pool.query('DELETE FROM graphile_worker._private_jobs');
  await pool.query('TRUNCATE idempotency_keys, payments, bookings, events, refresh_tokens, users CASCADE');
  const adminId = randomUUID();
  await pool.query(
    "INSERT INTO users (id, email, username, password_hash, role) VALUES ($1, 'bench-admin@example.test', 'admin', 'x', 'admin')",
    [adminId],
  );
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO users (id, email, username, password_hash, role)
     SELECT gen_random_uuid(), 'bench-' || g || '@example.test', 'bench' || g, 'x', 'user' FROM generate_series(1, $1) g
     RETURNING id`,
    [users],
  );
  const eventId = randomUUID();
  await pool.query(
    `INSERT INTO events (id, title, venue_name, address, starts_at, timezone, price_minor, currency, capacity, available,
                         max_per_order, max_per_user, status, created_by)
     VALUES ($1, 'Hot on-sale', 'Arena', '1 Main St', now() + interval '30 days', 'UTC', 5000, 'EUR', 1000000, 1000000, 10, 10, 'published', $2)`,
    [eventId, adminId],
  );
  return { eventId, userIds: rows.map((row) => row.id) };
}

async function checkInvariant(pool: pg.Pool, eventId: string, expectedHeld: number): Promise<void> {
  const { rows } = await pool.query(
    `SELECT capacity, available, held, sold,
            (SELECT count(*)::int FROM bookings WHERE event_id = $1 AND status = 'HELD') AS held_bookings
     FROM events WHERE id = $1`,
    [eventId],
  );
  const r = rows[0];
  if (r.available + r.held + r.sold !== r.capacity || r.held !== r.held_bookings || r.held !== expectedHeld)
    throw new Error(`invariant broken: ${JSON.stringify(r)} expected held ${expectedHeld}`);
}

// the per-user limit: tickets this buyer already holds or bought for the event
const OWNED = `SELECT coalesce(sum(quantity), 0)::int AS n FROM bookings
  WHERE event_id = $1 AND user_id = $2 AND status IN ('HELD', 'CONFIRMED')`;
const INSERT_BOOKING = `INSERT INTO bookings (id, user_id, event_id, quantity, unit_price_minor, total_minor, currency, status, hold_expires_at)
  VALUES ($1, $2, $3, 1, $4, $4, $5, 'HELD', now() + interval '15 minutes')`;
// the job the server adds with each hold (graphile-worker, job key per task)
const INSERT_JOB = `SELECT graphile_worker.add_job('expire-hold', json_build_object('bookingId', $1::text),
  run_at => now() + interval '15 minutes', max_attempts => 25, job_key => 'expire-hold:' || $1)`;

async function inTransaction(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<boolean>): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const ok = await work(client);
    await client.query(ok ? 'COMMIT' : 'ROLLBACK');
    return ok;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

async function runAll(pool: pg.Pool, url: string): Promise<LoadResult[]> {
  const results: LoadResult[] = [];

  type Strategy = (client: pg.PoolClient, eventId: string, userId: string) => Promise<boolean>;
  const conditional: Strategy = async (client, eventId, userId) => {
    const moved = await client.query(
      `UPDATE events SET available = available - 1, held = held + 1, version = version + 1
       WHERE id = $1 AND status = 'published' AND starts_at > now() AND available >= 1 RETURNING price_minor, currency`,
      [eventId],
    );
    const terms = moved.rows[0];
    if (!terms) return false;
    await client.query(OWNED, [eventId, userId]);
    const id = randomUUID();
    await client.query(INSERT_BOOKING, [id, userId, eventId, terms.price_minor, terms.currency]);
    await client.query(INSERT_JOB, [id]);
    return true;
  };
  const lockThenUpdate: Strategy = async (client, eventId, userId) => {
    const locked = await client.query(
      'SELECT available, status, starts_at, price_minor, currency FROM events WHERE id = $1 FOR UPDATE',
      [eventId],
    );
    const event = locked.rows[0];
    if (event?.status !== 'published' || event.available < 1) return false;
    await client.query(OWNED, [eventId, userId]);
    await client.query(
      'UPDATE events SET available = available - 1, held = held + 1, version = version + 1 WHERE id = $1',
      [eventId],
    );
    const id = randomUUID();
    await client.query(INSERT_BOOKING, [id, userId, eventId, event.price_minor, event.currency]);
    await client.query(INSERT_JOB, [id]);
    return true;
  };
  const rawPhase = async (label: string, strategy: Strategy) => {
    const { eventId, userIds } = await seed(pool, OPS);
    const result = await runLoad(label, OPS, CONCURRENCY, (i) =>
      inTransaction(pool, (client) => strategy(client, eventId, userIds[i] as string)),
    );
    await checkInvariant(pool, eventId, OPS);
    return result;
  };

  // a discarded first round warms caches and the WAL, so neither strategy pays for going first
  await rawPhase('warm-up', conditional);
  results.push(await rawPhase('raw SQL: conditional UPDATE', conditional));
  results.push(await rawPhase('raw SQL: SELECT FOR UPDATE, then UPDATE (ledger strategy)', lockThenUpdate));

  let { eventId, userIds } = await seed(pool, OPS);
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    LISTEN_HOST: '127.0.0.1',
    DATABASE_URL: url,
    DATABASE_POOL_MAX: String(CONCURRENCY),
    JWT_SECRET_KEY: randomUUID() + randomUUID(),
    JWT_REFRESH_TOKEN_KEY: randomUUID() + randomUUID(),
    ADMIN_EMAIL: 'bench-admin@example.test',
    ADMIN_USERNAME: 'admin',
    ADMIN_PASSWORD: randomUUID(),
    RATE_LIMIT_AUTH_PER_MINUTE: '0',
    PAYPAL_SIMULATOR_PERSIST: 'false',
    LOG_LEVEL: 'silent',
  });
  const server = await startServer(config, { log: createLogger('silent') });
  const base = server.url.replace('localhost', '127.0.0.1');
  try {
    // the hold alone through the service layer (MikroORM unit of work, no HTTP, no payment)
    results.push(
      await runLoad('service: createBooking (hold only)', OPS, CONCURRENCY, async (i) => {
        const deps = { ...server.deps.bookings, payments: null, em: server.deps.orm.em.fork() };
        const booking = await createBooking(deps, { id: userIds[i] as string, role: 'user' }, { eventId }, null);
        return booking.status === 'HELD';
      }),
    );
    await checkInvariant(pool, eventId, OPS);

    ({ eventId, userIds } = await seed(pool, OPS));
    const tokens = await Promise.all(userIds.map((id) => server.deps.tokens.signAccess({ id, role: 'user' })));
    // the whole booking request: auth, hold, and the PayPal order (built-in simulator over loopback)
    results.push(
      await runLoad('server over HTTP: POST /api/events/{id}/book + PayPal order', OPS, CONCURRENCY, async (i) => {
        const res = await fetch(`${base}/api/events/${eventId}/book`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[i]}` },
          body: '{"quantity":1}',
        });
        await res.arrayBuffer();
        return res.status === 200;
      }),
    );
    await checkInvariant(pool, eventId, OPS);
    results.push(
      await runLoad('server over HTTP: GET /api/events/{id}', OPS, CONCURRENCY, async () => {
        const res = await fetch(`${base}/api/events/${eventId}`);
        await res.arrayBuffer();
        return res.status === 200;
      }),
    );
    results.push(
      await runLoad('server over HTTP: GET /healthz', OPS, CONCURRENCY, async () => {
        const res = await fetch(`${base}/healthz`);
        await res.arrayBuffer();
        return res.status === 200;
      }),
    );
  } finally {
    await server.stop();
  }

  const bare = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const barePort = (bare.address() as AddressInfo).port;
  results.push(
    await runLoad('baseline: bare node:http server', OPS, CONCURRENCY, async () => {
      const res = await fetch(`http://127.0.0.1:${barePort}/`);
      await res.arrayBuffer();
      return res.status === 200;
    }),
  );
  await new Promise((resolve) => bare.close(resolve));
  return results;
}

await main();
