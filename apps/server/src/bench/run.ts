/**
 * `pnpm bench`: every scenario beside its ceilings, in one run, on one database.
 *
 *   ceiling-sql   the one-transaction hold (conditional update + insert) and its one-statement CTE
 *                 form, straight from a pg pool: what one hot row allows without batching
 *   hot-on-sale   one event, distinct signed-in buyers asking 1-4 tickets each, through tRPC (the
 *                 SDK's link) and REST, with holds batched per event and without; checks the counts
 *   purchase      book, follow the payment link, approve at the PayPal simulator, come back
 *   on-sale       a waiting room: buyers join before the opening, poll their place, book once
 *                 admitted, until the event sells out (time to sell out, admission rate, polls)
 *   ceiling-http  a bare node:http server, and bare Hono + tRPC answering with the catalogue's bytes
 *   catalog       100,000 events: a filtered list, text search, near-me by distance, one event's page
 *
 * Server, load generator and ceilings each run in a child process. Uses an embedded PostgreSQL, or
 * BENCH_DATABASE_URL (an empty scratch database). Options: --quick (everything small, under a
 * minute), --json FILE, --profile DIR (the server runs under `node --cpu-prof`; the hot-on-sale
 * window is summarised).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createOrm, migrate, startEmbeddedPostgres } from '@boxoffice/db';
import { migrateJobQueue } from '@boxoffice/db/job-queue';
import pg from 'pg';
import { type Child, forkChild, type Progress } from './children.ts';
import { type CpuSample, cpuPerRequest, postmasterOf, sampleCpu } from './cpu.ts';
import type { PoolResult, ReadsResult } from './load-process.ts';
import { onSaleScenario } from './onsale.ts';
import { type ProfileSummary, printProfile, profilesIn, summarizeProfile } from './profile.ts';
import {
  countsOf,
  insertBuyers,
  insertCatalog,
  insertEvent,
  insertOrganizer,
  publishedEventIds,
  REGION,
  TITLE_WORDS,
} from './seed.ts';
import { printTable, type ScenarioResult, summarize, withRatio } from './stats.ts';

const { values } = parseArgs({
  // `pnpm bench -- --quick` hands the script a leading `--`
  args: process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--')),
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    profile: { type: 'string' },
    // `--only on-sale`: just the waiting-room scenario (its full size is 10,000 buyers)
    only: { type: 'string' },
  },
});

const SIZES = {
  full: {
    holdTickets: 10_000,
    holdBuyers: 2_000,
    holdsInFlight: 200,
    sqlPool: 20,
    warmupHolds: 600,
    purchases: 500,
    purchasesInFlight: 50,
    catalogEvents: 100_000,
    readConnections: 100,
    readSeconds: 5,
    readWarmupSeconds: 1,
    onsaleBuyers: 10_000,
    onsaleTickets: 2_000,
    onsaleInFlight: 100,
  },
  quick: {
    holdTickets: 800,
    holdBuyers: 400,
    holdsInFlight: 200,
    sqlPool: 20,
    warmupHolds: 200,
    purchases: 60,
    purchasesInFlight: 20,
    catalogEvents: 5_000,
    readConnections: 100,
    readSeconds: 0.8,
    readWarmupSeconds: 0.2,
    onsaleBuyers: 1_000,
    onsaleTickets: 300,
    onsaleInFlight: 100,
  },
};
const sizes = values.quick ? SIZES.quick : SIZES.full;
const HERE = import.meta.dirname;
const began = performance.now();

const tty = process.stdout.isTTY;
function say(line: string) {
  if (tty) process.stdout.write('\r\x1b[K');
  console.log(line);
}
function progressOf(label: string) {
  return ({ done, total }: Progress) => {
    if (!tty) return;
    const seconds = ((performance.now() - began) / 1000).toFixed(0);
    process.stdout.write(`\r\x1b[K[bench ${seconds}s] ${label} … ${total ? `${done}/${total}` : `${done} requests`}`);
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

type Database = { url: string; stop: () => Promise<void>; source: string };

async function openDatabase(workDir: string): Promise<Database> {
  const given = process.env.BENCH_DATABASE_URL;
  if (given) return { url: given, stop: async () => {}, source: 'BENCH_DATABASE_URL' };
  const db = await startEmbeddedPostgres({ dataDir: path.join(workDir, 'db'), database: 'bench', persistent: false });
  return { url: db.url, stop: () => db.stop(), source: 'embedded PostgreSQL' };
}

const JWT_SECRET = randomBytes(32).toString('base64url');
const TICKET_KEY = generateKeyPairSync('ed25519')
  .privateKey.export({ format: 'der', type: 'pkcs8' })
  .toString('base64');

/** A Boxoffice server in its own process, configured as a production deployment would be. */
async function startBenchServer(
  workDir: string,
  database: string,
  opts: { batching: boolean; profileDir?: string },
): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const name = `server-batching-${opts.batching ? 'on' : 'off'}`;
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    PORT: String(port),
    LISTEN_HOST: '127.0.0.1',
    HOST: `http://127.0.0.1:${port}`,
    DATABASE_URL: database,
    DATA_DIR: path.join(workDir, name),
    JWT_SECRET_KEY: JWT_SECRET,
    JWT_REFRESH_TOKEN_KEY: randomBytes(32).toString('base64url'),
    ADMIN_EMAIL: 'bench-admin@bench.example',
    ADMIN_USERNAME: 'benchadmin',
    ADMIN_PASSWORD: randomBytes(18).toString('base64url'),
    PAYPAL_SIMULATOR: 'true',
    PAYPAL_SIMULATOR_PERSIST: 'false',
    // every purchase comes from the load generator's one address: the per-address limit would stop it
    RATE_LIMIT_PAYMENT_PER_MINUTE: '0',
    LOG_LEVEL: 'warn',
    HOLD_BATCHING: String(opts.batching),
    // the waiting room's admission job runs every second (as often as it may)
    ADMISSION_TICK_SECONDS: '1',
    // production asks for a mail server and a ticket key: the benchmark sends no mail
    MAIL_DISABLED: 'true',
    TICKET_SIGNING_KEY: TICKET_KEY,
  };
  const execArgv = opts.profileDir ? ['--cpu-prof', '--cpu-prof-dir', opts.profileDir] : [];
  const child = forkChild(path.join(HERE, 'server-process.ts'), {
    env,
    execArgv,
    log: path.join(workDir, `${name}.log`),
  });
  await child.ready;
  return { child, url: await child.call<string>('url') };
}

/** What a hold scenario's answers and the database say afterwards. */
async function checkHolds(pool: pg.Pool, name: string, eventId: string, run: PoolResult): Promise<ScenarioResult> {
  const counts = await countsOf(pool, eventId);
  const requests = run.latencies.length;
  const held = (run.outcomes.HELD ?? 0) + (run.outcomes.CONFIRMED ?? 0);
  const soldOut = run.outcomes.SOLD_OUT ?? 0;
  const errors = requests - held - soldOut;
  const balanced =
    counts.available + counts.held + counts.sold === counts.capacity &&
    counts.held + counts.sold === counts.heldBookings &&
    counts.heldBookings === run.ticketsTaken;
  // a sell-out is correct when whoever was refused asked for more than was left
  const sellOut =
    soldOut === 0 ? 'not sold out' : counts.available < run.smallestSoldOut ? 'sold out' : 'WRONG sell-out';
  if (errors > 0) problems.push(`${name}: ${errors} requests failed: ${JSON.stringify(run.outcomes)}`);
  if (!balanced || sellOut.startsWith('WRONG'))
    problems.push(`${name}: counts ${JSON.stringify(counts)}, answers ${run.ticketsTaken} tickets, ${sellOut}`);
  const others = Object.entries(run.outcomes).filter(([kind]) => !['HELD', 'CONFIRMED', 'SOLD_OUT'].includes(kind));
  return {
    name,
    perSecond: Math.round(requests / run.seconds),
    ...summarize([...run.latencies]),
    requests,
    errors,
    oversold: Math.max(0, run.ticketsTaken - counts.capacity),
    notes: [
      `${held} held, ${soldOut} sold out: ${sellOut}, ${counts.available}/${counts.capacity} left`,
      `invariant ${balanced ? 'ok' : 'BROKEN'}`,
      ...others.map(([kind, n]) => `${n}× ${kind}`),
    ].join('; '),
  };
}

function readsResult(name: string, run: ReadsResult): ScenarioResult {
  if (run.errors > 0) problems.push(`${name}: ${run.errors} failed reads`);
  return {
    name,
    perSecond: Math.round(run.requests / run.seconds),
    ...summarize([...run.latencies]),
    requests: run.requests,
    errors: run.errors,
  };
}

const problems: string[] = [];
let postmaster: number | null = null;
/** Runs one measured step, noting the CPU the server, the load generator and PostgreSQL spent on it. */
async function measured<T>(procs: { server?: Child; load: Child }, work: () => Promise<T>) {
  const which = { server: procs.server?.process.pid, load: procs.load.process.pid, postmaster };
  const before: CpuSample = await sampleCpu(which);
  const value = await work();
  const after = await sampleCpu(which);
  return {
    value,
    /** The result with the CPU per request in its notes. */
    noted: (result: ScenarioResult): ScenarioResult => {
      const cpu = cpuPerRequest(before, after, result.requests);
      return { ...result, notes: result.notes ? `${result.notes}; ${cpu}` : cpu };
    },
  };
}
const results: ScenarioResult[] = [];
function record(result: ScenarioResult) {
  results.push(result);
  say(
    `[bench] ${result.name}: ${result.perSecond} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms` +
      (result.ratioToCeiling === undefined ? '' : `, ${result.ratioToCeiling}x ${result.ceiling}`),
  );
}
const find = (name: string) => results.find((r) => r.name === name);

const quantities = (n: number) => Array.from({ length: n }, (_, i) => 1 + (i % 4));
const trpcPath = (procedure: string, input: unknown) =>
  `/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify(input))}`;
const between = (range: readonly [number, number]) => range[0] + Math.random() * (range[1] - range[0]);

async function main() {
  const workDir = await mkdtemp(path.join(tmpdir(), 'boxoffice-bench-'));
  // as root, the embedded PostgreSQL runs as a system user of its own, which must enter this folder
  await chmod(workDir, 0o755);
  say(`[bench] ${values.quick ? 'quick run' : 'full run'}; child logs in ${workDir}`);
  const database = await openDatabase(workDir);
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  pool.on('error', () => {});
  const load = forkChild(path.join(HERE, 'load-process.ts'), { log: path.join(workDir, 'load.log') });
  let profile: ProfileSummary | undefined;
  let restAdapterMs: number | undefined;
  try {
    const orm = await createOrm({ url: database.url, poolMax: 2 });
    await migrate(orm);
    await migrateJobQueue(orm);
    await orm.close(true);
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
    if (process.env.BENCH_DATABASE_URL && (rows[0]?.n ?? 0) > 0)
      throw new Error('BENCH_DATABASE_URL must point at an empty scratch database: it has users');
    const organizer = await insertOrganizer(pool);
    postmaster = process.env.BENCH_DATABASE_URL ? null : await postmasterOf(pool);
    await load.ready;
    // every scenario, or with --only the one named
    {
      const onSale = async (server: { url: string }) => {
        for (const result of await onSaleScenario({
          pool,
          organizer,
          server,
          load,
          jwtSecret: JWT_SECRET,
          buyers: sizes.onsaleBuyers,
          tickets: sizes.onsaleTickets,
          inFlight: sizes.onsaleInFlight,
          progress: progressOf,
          problems,
        }))
          record(result);
      };
      if (values.only !== undefined) {
        if (values.only !== 'on-sale') throw new Error(`--only takes on-sale, got ${values.only}`);
        const server = await startBenchServer(workDir, database.url, { batching: true });
        try {
          await onSale(server);
        } finally {
          await server.child.stop();
        }
      } else await everyScenario(onSale);
    }
    async function everyScenario(onSale: (server: { url: string }) => Promise<void>) {
      const hotEvent = (title: string) =>
        insertEvent(pool, organizer, {
          title,
          capacity: sizes.holdTickets,
          priceMinor: 5000,
          maxPerOrder: 4,
          maxPerUser: 4,
        });

      // ceiling-sql: the hold as plain SQL at the same concurrency, from a pool the server's size; run
      // again between the servers' runs, and the better of the two kept, so the machine's mood at one
      // moment does not make the ceiling low
      const sqlCeilings = async () => {
        for (const form of ['transaction', 'cte'] as const) {
          const name = `ceiling-sql/${form === 'transaction' ? 'one-transaction' : 'cte'}`;
          const eventId = await hotEvent(name);
          const userIds = await insertBuyers(pool, sizes.holdBuyers, form);
          const { value: run, noted } = await measured({ load }, () =>
            load.call<PoolResult>(
              'sqlHolds',
              {
                url: database.url,
                form,
                eventId,
                userIds,
                quantities: quantities(userIds.length),
                inFlight: sizes.holdsInFlight,
                poolSize: sizes.sqlPool,
              },
              progressOf(name),
            ),
          );
          const result = noted(await checkHolds(pool, name, eventId, run));
          const earlier = find(name);
          if (!earlier) record(result);
          else {
            const best = result.perSecond > earlier.perSecond ? result : earlier;
            const both = `best of 2 runs (${earlier.perSecond} and ${result.perSecond} req/s)`;
            results.splice(results.indexOf(earlier), 1, { ...best, notes: `${both}; ${best.notes}` });
            say(`[bench] ${name}: ${result.perSecond} req/s this time, keeping ${best.perSecond}`);
          }
        }
      };
      await sqlCeilings();

      /** What the load generator's `holds` run is given: these buyers ask for tickets of this event. */
      const holdsLoad = (base: string, transport: 'trpc' | 'rest', eventId: string, userIds: string[]) => ({
        base,
        transport,
        eventId,
        jwtSecret: JWT_SECRET,
        userIds,
        quantities: quantities(userIds.length),
        inFlight: sizes.holdsInFlight,
      });
      const holdPhase = async (server: { child: Child; url: string }, transport: 'trpc' | 'rest', mode: string) => {
        const name = `hot-on-sale/${transport}/batching-${mode}`;
        const eventId = await hotEvent(name);
        const userIds = await insertBuyers(pool, sizes.holdBuyers, `${transport}-${mode}`);
        const from = await server.child.call<number>('mark');
        const { value: run, noted } = await measured({ server: server.child, load }, () =>
          load.call<PoolResult>('holds', holdsLoad(server.url, transport, eventId, userIds), progressOf(name)),
        );
        const to = await server.child.call<number>('mark');
        record(noted(await checkHolds(pool, name, eventId, run)));
        return { from, to, requests: run.latencies.length, eventId };
      };
      const warmUp = async (server: { child: Child; url: string }) => {
        const eventId = await insertEvent(pool, organizer, {
          title: 'warm-up',
          capacity: 100_000,
          priceMinor: 5000,
          maxPerOrder: 4,
          maxPerUser: 4,
        });
        for (const transport of ['trpc', 'rest'] as const) {
          const userIds = await insertBuyers(pool, sizes.warmupHolds / 2, `warm-${transport}`);
          await load.call('holds', holdsLoad(server.url, transport, eventId, userIds));
        }
      };

      // hot-on-sale, one transaction per hold
      const unbatched = await startBenchServer(workDir, database.url, { batching: false });
      try {
        await warmUp(unbatched);
        for (const transport of ['trpc', 'rest'] as const) await holdPhase(unbatched, transport, 'off');
      } finally {
        await unbatched.child.stop();
      }
      await sqlCeilings();

      // hot-on-sale batched (profiled with --profile), then purchases and the catalogue on the same server
      const profileDir = values.profile ? path.resolve(values.profile) : undefined;
      if (profileDir) await mkdir(profileDir, { recursive: true });
      const server = await startBenchServer(workDir, database.url, { batching: true, profileDir });
      let window: { from: number; to: number; requests: number; eventId: string } | undefined;
      try {
        await warmUp(server);
        window = await holdPhase(server, 'trpc', 'on');
        const hotEventId = window.eventId;
        await holdPhase(server, 'rest', 'on');

        const purchaseEvent = await insertEvent(pool, organizer, {
          title: 'purchase',
          capacity: sizes.purchases,
          priceMinor: 4200,
          maxPerOrder: 4,
          maxPerUser: 4,
        });
        const userIds = await insertBuyers(pool, sizes.purchases, 'purchase');
        const { value: purchaseRun, noted } = await measured({ server: server.child, load }, () =>
          load.call<PoolResult>(
            'purchases',
            {
              base: server.url,
              eventId: purchaseEvent,
              jwtSecret: JWT_SECRET,
              userIds,
              inFlight: sizes.purchasesInFlight,
            },
            progressOf('purchase'),
          ),
        );
        const counts = await countsOf(pool, purchaseEvent);
        const confirmed = purchaseRun.outcomes.confirmed ?? 0;
        if (counts.sold !== confirmed || confirmed !== sizes.purchases)
          problems.push(`purchase: ${confirmed} confirmed of ${sizes.purchases}, sold ${counts.sold}`);
        record(
          noted({
            name: 'purchase',
            perSecond: Math.round(purchaseRun.latencies.length / purchaseRun.seconds),
            ...summarize([...purchaseRun.latencies]),
            requests: purchaseRun.latencies.length,
            errors: purchaseRun.latencies.length - confirmed,
            notes: `${confirmed} confirmed, sold ${counts.sold}; book + start + approve + capture, ${sizes.purchasesInFlight} in flight`,
          }),
        );

        await onSale(server);

        restAdapterMs = await catalog(pool, organizer, server, load, workDir, hotEventId);
      } finally {
        await server.child.stop();
      }
      if (profileDir && window) {
        const [file] = await profilesIn(profileDir);
        if (file) {
          const cut = { fromUs: window.from, toUs: window.to };
          profile = await summarizeProfile(file, cut, window.requests);
          say('');
          printProfile(`CPU profile of the server during hot-on-sale/trpc/batching-on (${file})`, profile, say);
        }
      }
    }
  } finally {
    await load.stop();
    await pool.end();
    await database.stop();
    if (!values.profile) await rm(workDir, { recursive: true, force: true }).catch(() => {});
  }

  const seconds = Math.round((performance.now() - began) / 100) / 10;
  say('');
  say(
    `One run, ${values.quick ? 'quick' : 'full'} sizes, ${cpus().length} CPUs, Node ${process.version}, ` +
      `${process.env.BENCH_DATABASE_URL ? 'BENCH_DATABASE_URL' : 'embedded PostgreSQL'}, ${seconds} s:`,
  );
  // each result against its ceiling, once every ceiling has its final number
  for (const [i, result] of results.entries()) {
    const ceiling =
      result.ceiling ?? (/^(hot-on-sale|purchase)/.test(result.name) ? 'ceiling-sql/one-transaction' : null);
    if (ceiling) results[i] = withRatio(result, find(ceiling));
  }
  say('');
  printTable(results, say);
  // with --only, the targets of the scenarios that ran
  const targets = checkTargets().filter(
    (target) => values.only === undefined || /^(on-sale|nothing oversold)/.test(target.what),
  );
  say('');
  for (const target of targets) say(`${target.met ? 'met ' : 'MISS'}  ${target.what}: ${target.value}`);
  if (values.json) {
    const report = {
      generatedAt: new Date().toISOString(),
      quick: values.quick,
      seconds,
      cpus: cpus().length,
      node: process.version,
      sizes,
      scenarios: results,
      targets,
      ...(restAdapterMs === undefined ? {} : { restAdapterMsPerRequest: Math.round(restAdapterMs * 100) / 100 }),
      ...(profile ? { profile } : {}),
    };
    await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
    say(`\n[bench] wrote ${values.json}`);
  }
  if (problems.length) {
    say(`\n[bench] FAILED checks:\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  }
}

/** The catalogue: seeded in one statement, read at 100 connections beside bare servers with its bytes. */
async function catalog(
  pool: pg.Pool,
  organizer: string,
  server: { child: Child; url: string },
  load: Child,
  workDir: string,
  hotEventId: string,
) {
  const base = server.url;
  /** A warm-up, then the measured run of `paths` at `url`, whose process is `target`. */
  const readAt = async (name: string, target: Child, url: string, paths: string[]) => {
    const options = { base: url, paths, connections: sizes.readConnections };
    await load.call('reads', { ...options, seconds: sizes.readWarmupSeconds });
    const { value, noted } = await measured({ server: target, load }, () =>
      load.call<ReadsResult>('reads', { ...options, seconds: sizes.readSeconds }, progressOf(name)),
    );
    return noted(readsResult(name, value));
  };
  say(`[bench] catalog: inserting ${sizes.catalogEvents} events`);
  await insertCatalog(pool, organizer, sizes.catalogEvents);
  const eventIds = await publishedEventIds(pool, 20_000);
  const listInput = () => {
    const minPrice = 500 + Math.floor(Math.random() * 15_000);
    return {
      minPrice,
      maxPrice: minPrice + 5_000,
      currency: 'EUR',
      hasTickets: true,
      startsAfter: new Date(Date.now() + Math.floor(Math.random() * 200) * 86_400_000).toISOString(),
      limit: 20,
    };
  };
  const near = (lat: number, lng: number) => ({
    nearLat: lat,
    nearLng: lng,
    radiusKm: 50,
    sort: 'distance',
    limit: 20,
  });
  const randomNear = () =>
    near(Math.round(between(REGION.lat) * 1e4) / 1e4, Math.round(between(REGION.lng) * 1e4) / 1e4);
  const restList = () => `/api/events?${new URLSearchParams(stringValues(listInput()))}`;
  // what many buyers load at once (the on-sale's page, the front page's lists, a city's events),
  // and then reads that are each different, so every one runs its query
  const queries: { name: string; ceiling: 'list' | 'event'; paths: string[] }[] = [
    { name: 'catalog/list', ceiling: 'list', paths: many(10, () => trpcPath('events.list', listInput())) },
    {
      name: 'catalog/search',
      ceiling: 'list',
      paths: TITLE_WORDS.slice(0, 20).map((q) => trpcPath('events.list', { q, limit: 20 })),
    },
    {
      name: 'catalog/near-me',
      ceiling: 'list',
      paths: CITIES.map(([lat, lng]) => trpcPath('events.list', near(lat, lng))),
    },
    { name: 'catalog/event', ceiling: 'event', paths: [trpcPath('events.get', { eventId: hotEventId })] },
    { name: 'catalog/list (REST)', ceiling: 'list', paths: many(10, restList) },
    { name: 'catalog/event (REST)', ceiling: 'event', paths: [`/api/events/${hotEventId}`] },
    {
      name: 'catalog/list, each new',
      ceiling: 'list',
      paths: many(10_000, () => trpcPath('events.list', listInput())),
    },
    {
      name: 'catalog/near-me, each new',
      ceiling: 'list',
      paths: many(10_000, () => trpcPath('events.list', randomNear())),
    },
    {
      name: 'catalog/event, each new',
      ceiling: 'event',
      paths: eventIds.map((eventId) => trpcPath('events.get', { eventId })),
    },
    {
      name: 'catalog/event (REST), each new',
      ceiling: 'event',
      paths: eventIds.map((eventId) => `/api/events/${eventId}`),
    },
  ];

  // the ceilings answer with the bytes the server answers with
  const sample = async (url: string) =>
    ((await (await fetch(url)).json()) as { result: { data: unknown } }).result.data;
  const bodies = {
    list: await sample(`${base}${queries[0]?.paths[0]}`),
    event: await sample(`${base}${queries[3]?.paths[0]}`),
  };
  const ceilings = forkChild(path.join(HERE, 'ceiling-process.ts'), { log: path.join(workDir, 'ceilings.log') });
  try {
    await ceilings.ready;
    const bare = await ceilings.call<{ node: string; trpc: string }>('start', { bodies });
    record(await readAt('ceiling-http/node', ceilings, bare.node, ['/']));
    record(await readAt('ceiling-http/hono-trpc-list', ceilings, bare.trpc, queries[0]?.paths ?? []));
    record(await readAt('ceiling-http/hono-trpc-event', ceilings, bare.trpc, queries[3]?.paths ?? []));
  } finally {
    await ceilings.stop();
  }
  const cpu: Record<string, number> = {};
  for (const query of queries) {
    const result = await readAt(query.name, server.child, base, query.paths);
    cpu[query.name] = Number(/server ([\d.]+)/.exec(result.notes ?? '')?.[1] ?? Number.NaN);
    record({ ...result, ceiling: `ceiling-http/hono-trpc-${query.ceiling}` });
  }
  // the same procedure through the OpenAPI adapter and through tRPC, each request running its query
  const adapter =
    (cpu['catalog/event (REST), each new'] ?? Number.NaN) - (cpu['catalog/event, each new'] ?? Number.NaN);
  if (Number.isFinite(adapter))
    say(
      `[bench] the REST adapter's cost over tRPC's, for one event's page: ${adapter.toFixed(2)} ms of server CPU per request`,
    );
  return Number.isFinite(adapter) ? adapter : undefined;
}

const many = <T>(n: number, make: () => T) => Array.from({ length: n }, make);

/** What issue 13 asks of one run, each against the ceiling measured in it. */
function checkTargets(): { what: string; value: string; met: boolean }[] {
  const ratio = (name: string) => find(name)?.ratioToCeiling ?? 0;
  const at = (what: string, name: string, min: number) => ({
    what: `${what} >= ${min}x its ceiling`,
    value: `${ratio(name)}x`,
    met: ratio(name) >= min,
  });
  const hot = find('hot-on-sale/trpc/batching-on');
  return [
    at('hot-on-sale through tRPC', 'hot-on-sale/trpc/batching-on', 1.0),
    at('hot-on-sale through REST', 'hot-on-sale/rest/batching-on', 0.8),
    { what: 'hot-on-sale through tRPC p99 < 250 ms', value: `${hot?.p99Ms} ms`, met: (hot?.p99Ms ?? 1e9) < 250 },
    {
      what: 'on-sale with waiting room sold out, nobody admitted twice',
      value: find('on-sale/sell-out')?.notes?.split(';')[0] ?? 'not run',
      met: !problems.some((problem) => problem.startsWith('on-sale')) && find('on-sale/sell-out') !== undefined,
    },
    {
      what: 'nothing oversold',
      value: `${results.reduce((sum, r) => sum + (r.oversold ?? 0), 0)}`,
      met: results.every((r) => (r.oversold ?? 0) === 0),
    },
    at('catalog list with filters', 'catalog/list', 0.3),
    at('catalog near-me', 'catalog/near-me', 0.3),
    at("catalog one event's page", 'catalog/event', 0.5),
  ];
}

/** City centres in REGION, for "near me" pages many people load at once. */
const CITIES: [number, number][] = [
  [52.52, 13.405],
  [48.137, 11.575],
  [53.551, 9.993],
  [50.11, 8.682],
  [50.938, 6.96],
  [48.208, 16.373],
  [47.377, 8.541],
  [50.075, 14.438],
  [52.37, 4.895],
  [50.85, 4.352],
  [48.857, 2.352],
  [45.764, 4.836],
  [45.464, 9.19],
  [55.676, 12.568],
  [52.23, 21.012],
  [48.776, 9.18],
  [51.34, 12.375],
  [48.573, 7.752],
  [49.611, 6.13],
  [51.05, 13.738],
];
const stringValues = (input: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(input).map(([key, value]) => [key, String(value)]));

await main();
