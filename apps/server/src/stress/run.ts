/**
 * `pnpm test:stress`: a seeded random workload against two Boxoffice server processes on one
 * PostgreSQL and one standalone PayPal simulator, with faults (PayPal 5xx and timeouts, webhooks
 * duplicated, delayed and reordered, database backends terminated mid-transaction, one server
 * SIGKILLed and restarted), then the invariants read from the database and `pnpm reconcile`.
 *
 * Two passes: the servers straight on PostgreSQL, then through pgbouncer in transaction pooling
 * mode (migrations and the job queue direct). Options:
 *   --pass direct|pgbouncer|both     (default both)
 *   --expect-failure-with-broken-ledger   one short pass with LEDGER_UNSAFE_SKIP_ROW_LOCK=true and
 *                                    the CHECK constraint dropped: exits 0 only if violations are found
 *   --json FILE                      the figures as JSON
 * (STRESS_BROKEN_KEEP_CHECK=true keeps the constraint: the database then refuses the oversell, as 500s)
 * Environment: STRESS_SEED (replays a run's choices), STRESS_SECONDS (workload length per pass),
 * STRESS_OPS (stop after this many buyer journeys), STRESS_BUYERS, TEST_DATABASE_URL (a PostgreSQL
 * to use instead of an embedded one; a scratch database is created and dropped per pass).
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createOrm, freePort, migrate, startEmbeddedPostgres } from '@boxoffice/db';
import { migrateJobQueue } from '@boxoffice/db/job-queue';
import { type ListeningPayPalSimulator, listenPayPalSimulator } from '@boxoffice/paypal-simulator';
import pg from 'pg';
import { memoryTokenStore } from '../../../../packages/sdk/src/index.ts';
import { type Child, forkChild } from '../bench/children.ts';
import { checkInvariants, pendingWork } from './invariants.ts';
import { startPgBouncer } from './pgbouncer.ts';
import { createRandom } from './random.ts';
import {
  adminLoop,
  type Buyer,
  buyerJourney,
  chaosLoop,
  emptyFigures,
  type Figures,
  type Instance,
  newBuyer,
  openingBurst,
  type StressEvent,
  sdkClient,
  tally,
  type Workload,
} from './workload.ts';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--')),
  options: {
    pass: { type: 'string', default: 'both' },
    'expect-failure-with-broken-ledger': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const broken = values['expect-failure-with-broken-ledger'];
const passes: ('direct' | 'pgbouncer')[] = broken
  ? ['direct']
  : values.pass === 'both'
    ? ['direct', 'pgbouncer']
    : values.pass === 'direct' || values.pass === 'pgbouncer'
      ? [values.pass]
      : (() => {
          throw new Error(`--pass must be direct, pgbouncer or both, got ${values.pass}`);
        })();

const seed = process.env.STRESS_SEED ? Number(process.env.STRESS_SEED) : randomInt(2 ** 31);
if (!Number.isInteger(seed)) throw new Error('STRESS_SEED must be a whole number');
const SECONDS = Number(process.env.STRESS_SECONDS ?? (broken ? 15 : 35));
const MAX_OPS = Number(process.env.STRESS_OPS ?? Number.POSITIVE_INFINITY);
const BUYERS = Number(process.env.STRESS_BUYERS ?? 30);
const HOLD_TTL_MINUTES = 0.2; // 12 s: holds lapse many times over in one pass
const HOLD_TTL_MS = HOLD_TTL_MINUTES * 60_000;
const JOB_LEASE_SECONDS = 6;
const HERE = import.meta.dirname;
const ROOT = path.resolve(HERE, '../../../..');
const began = performance.now();
const say = (line: string) => console.log(`[stress ${((performance.now() - began) / 1000).toFixed(0)}s] ${line}`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

console.log(
  `[stress] seed ${seed} (replay: STRESS_SEED=${seed} pnpm test:stress${broken ? ' --expect-failure-with-broken-ledger' : ''}), ${SECONDS}s per pass, passes: ${passes.join(', ')}`,
);

type PassResult = {
  pass: string;
  seconds: number;
  journeys: number;
  figures: Figures;
  checked: Record<string, number>;
  violations: string[];
};

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const JWT = {
  JWT_SECRET_KEY: randomBytes(32).toString('base64url'),
  JWT_REFRESH_TOKEN_KEY: randomBytes(32).toString('base64url'),
};
const ADMIN = {
  email: 'stress-admin@example.test',
  username: 'stressadmin',
  password: randomBytes(18).toString('base64url'),
};

type Server = { instance: Instance; env: NodeJS.ProcessEnv; log: string; child: Child | null };

async function startChild(server: Server): Promise<void> {
  const child = forkChild(path.join(HERE, '../bench/server-process.ts'), { env: server.env, log: server.log });
  await child.ready;
  server.child = child;
  server.instance.up = true;
}

/** `pnpm reconcile --json`, as an operator runs it: nothing found is exit status 0. */
function runReconcile(env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'apps/server/bin/reconcile.mjs'), '--json', '--since', '1d'],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('exit', (code) => resolve({ code, out }));
  });
}

async function runPass(adminUrl: string, workDir: string, pass: 'direct' | 'pgbouncer'): Promise<PassResult> {
  const rng = createRandom(seed + (pass === 'pgbouncer' ? 1 : 0));
  const figures = emptyFigures();
  const violations: string[] = [];
  const database = `boxoffice_stress_${pass}_${randomBytes(4).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${database}`);
  const directUrl = withDatabase(adminUrl, database);
  const cleanups: (() => Promise<unknown>)[] = [
    () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
  ];
  const cleanup = async () => {
    for (const step of cleanups.reverse())
      await step().catch((error: unknown) => say(`cleanup: ${(error as Error).message}`));
  };
  try {
    const orm = await createOrm({ url: directUrl, poolMax: 1 });
    try {
      await migrate(orm);
      await migrateJobQueue(orm);
      // the backstop goes too, so what the row lock alone prevents shows as an oversell
      if (broken && process.env.STRESS_BROKEN_KEEP_CHECK !== 'true')
        await orm.em.fork().execute('ALTER TABLE events DROP CONSTRAINT events_tickets_balance');
    } finally {
      await orm.close(true);
    }
    const bouncer = pass === 'pgbouncer' ? await startPgBouncer(directUrl) : null;
    if (bouncer) {
      cleanups.push(() => bouncer.stop());
      say(`pgbouncer (transaction pooling) on port ${bouncer.port}, pid ${bouncer.pid}`);
    }
    const sim: ListeningPayPalSimulator = await listenPayPalSimulator({
      faults: true,
      allowedRedirectPrefixes: [],
      hostname: '127.0.0.1',
      port: 0,
    });
    cleanups.push(() => sim.close());
    const ports = [await freePort(), await freePort()];
    const servers: Server[] = ports.map((port, i) => {
      const name = i === 0 ? 'A' : 'B';
      const url = `http://127.0.0.1:${port}`;
      const webhookId = `STRESS${name}${randomBytes(6).toString('hex').toUpperCase()}`;
      sim.allowRedirectPrefix(`${url}/payments/paypal/return`);
      sim.allowRedirectPrefix(`${url}/payments/paypal/cancel`);
      sim.addWebhook({ url: `${url}/webhooks/paypal`, id: webhookId });
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: 'test',
        PORT: String(port),
        LISTEN_HOST: '127.0.0.1',
        HOST: url,
        DATABASE_URL: bouncer ? withDatabase(bouncer.url, database) : directUrl,
        ...(bouncer ? { DATABASE_DIRECT_URL: directUrl } : {}),
        DATABASE_POOL_MAX: '10',
        DATABASE_ACQUIRE_TIMEOUT_MS: '3000',
        DATABASE_STATEMENT_TIMEOUT_MS: '5000',
        DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '3000',
        DATA_DIR: path.join(workDir, `${pass}-${name}`),
        ...JWT,
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_USERNAME: ADMIN.username,
        ADMIN_PASSWORD: ADMIN.password,
        PAYPAL_API_BASE_URL: sim.baseUrl,
        PAYPAL_CLIENT_ID: sim.credentials.clientId,
        PAYPAL_SECRET_KEY: sim.credentials.clientSecret,
        PAYPAL_WEBHOOK_ID: webhookId,
        PAYPAL_TIMEOUT_MS: '1500',
        HOLD_TTL_MINUTES: String(HOLD_TTL_MINUTES),
        JOB_LEASE_SECONDS: String(JOB_LEASE_SECONDS),
        // one instance batches holds per event, the other takes each alone: both paths contend
        HOLD_BATCHING: i === 0 ? 'true' : 'false',
        PUBLIC_CACHE_SECONDS: '0',
        RATE_LIMIT_AUTH_PER_MINUTE: '0',
        RATE_LIMIT_PAYMENT_PER_MINUTE: '0',
        RATE_LIMIT_PAYMENTS_PER_USER_PER_HOUR: '0',
        LOG_LEVEL: 'warn',
        ...(broken ? { LEDGER_UNSAFE_SKIP_ROW_LOCK: 'true' } : {}),
      };
      return {
        instance: { name, url, up: false },
        env,
        log: path.join(workDir, `${pass}-server-${name}.log`),
        child: null,
      };
    });
    cleanups.push(() => Promise.all(servers.map((server) => server.child?.stop())));
    await Promise.all(servers.map(startChild));
    const instances = servers.map((server) => server.instance);
    const side = new pg.Client({ connectionString: directUrl });
    await side.connect();
    side.on('error', () => {});
    cleanups.push(() => side.end());
    say(`${pass}: servers ${instances.map((i) => `${i.name} ${i.url}`).join(', ')}; PayPal simulator ${sim.baseUrl}`);

    // the admin and the events, through the SDK
    const adminStore = memoryTokenStore();
    const admin = instances.map((instance) => sdkClient(instance.url, adminStore));
    await admin[0]?.auth.login({ email: ADMIN.email, password: ADMIN.password });
    const startsAt = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const specs = [
      ...Array.from({ length: 4 }, (_, i) => ({
        capacity: 3,
        maxPerOrder: 2,
        maxPerUser: 3,
        priceMinor: 1500 + i * 125,
        hot: true,
      })),
      ...Array.from({ length: 3 }, () => ({
        capacity: 60,
        maxPerOrder: 3,
        maxPerUser: 6,
        priceMinor: 4200,
        hot: false,
      })),
      { capacity: 6, maxPerOrder: 2, maxPerUser: 2, priceMinor: 0, hot: true },
    ];
    const events: StressEvent[] = [];
    for (const [n, spec] of specs.entries()) {
      const event = await (admin[n % admin.length] ?? admin[0])?.events.create.mutate({
        title: `Stress ${pass} ${n}`,
        venueName: 'Hall',
        address: '1 Main St',
        startsAt,
        timezone: 'Europe/Berlin',
        priceMinor: spec.priceMinor,
        currency: 'EUR',
        capacity: spec.capacity,
        maxPerOrder: spec.maxPerOrder,
        maxPerUser: spec.maxPerUser,
      });
      if (event) events.push({ id: event.id, ...spec });
    }
    const buyers: Buyer[] = [];
    for (let n = 0; n < BUYERS; n += 6)
      buyers.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(6, BUYERS - n) }, (_, k) =>
            newBuyer(instances, n + k, seed * 10 + (pass === 'pgbouncer' ? 1 : 0)),
          ),
        )),
      );
    say(
      `${pass}: ${events.length} events (${specs.filter((s) => s.hot).length} with 3-6 tickets), ${buyers.length} buyers; workload for ${SECONDS}s`,
    );

    let stopping = false;
    const w: Workload = {
      rng,
      figures,
      instances,
      sim,
      side,
      holdTtlMs: HOLD_TTL_MS,
      stopping: () => stopping,
      log: say,
    };
    await openingBurst(w, buyers, events);
    const workStarted = Date.now();
    const until = workStarted + SECONDS * 1000;
    let journeys = 0;
    // a buyer dawdling at PayPal stops dawdling when the time is up
    const timeUp = setTimeout(() => {
      stopping = true;
    }, SECONDS * 1000);
    const buyerLoop = async (buyer: Buyer) => {
      while (!stopping && Date.now() < until && journeys < MAX_OPS) {
        journeys += 1;
        await buyerJourney(w, buyer, events);
      }
    };
    const killer = async () => {
      // one server SIGKILLed a third of the way in, restarted on the same port
      await sleep(SECONDS * 1000 * 0.35);
      const victim = servers[1] as Server;
      if (stopping || !victim.child) return;
      victim.instance.up = false;
      victim.child.process.kill('SIGKILL');
      await victim.child.exited;
      figures.kills += 1;
      say(`${pass}: server ${victim.instance.name} SIGKILLed`);
      await sleep(1500);
      const restartedAt = performance.now();
      await startChild(victim);
      figures.restarts += 1;
      say(`${pass}: server ${victim.instance.name} restarted in ${Math.round(performance.now() - restartedAt)} ms`);
    };
    await Promise.all([
      ...buyers.map(buyerLoop),
      adminLoop(
        w,
        admin,
        events.filter((event) => !event.hot),
        until,
      ),
      chaosLoop(w, until),
      killer(),
    ]);
    stopping = true;
    clearTimeout(timeUp);
    const seconds = (Date.now() - workStarted) / 1000;
    say(`${pass}: workload done, ${journeys} journeys in ${seconds.toFixed(0)}s; draining`);

    // drain: no more faults, every webhook out, every hold lapsed and released, every due job run
    sim.controls.clearFaults();
    sim.controls.resumeWebhooks();
    const drainUntil = Date.now() + HOLD_TTL_MS + 45_000;
    let pending = await pendingWork(side);
    let shown = Date.now();
    while (Date.now() < drainUntil) {
      await sim.controls.deliverWebhooks().catch(() => 0);
      pending = await pendingWork(side);
      if (pending.openHolds === 0 && pending.dueJobs === 0) break;
      if (Date.now() - shown > 5000) {
        shown = Date.now();
        const { rows } = await side.query(
          `SELECT task_identifier, attempts, run_at < now() AS due, locked_at IS NOT NULL AS locked, count(*)::int AS n
             FROM graphile_worker.jobs WHERE run_at < now() + interval '20 seconds' GROUP BY 1, 2, 3, 4`,
        );
        say(`${pass}: draining, ${JSON.stringify(pending)} ${JSON.stringify(rows)}`);
      }
      await sleep(500);
    }
    say(`${pass}: drained (${JSON.stringify(pending)})`);

    const report = await checkInvariants(side, { leaseMs: JOB_LEASE_SECONDS * 1000 });
    violations.push(...report.violations);
    const reconcile = await runReconcile({
      ...(servers[0] as Server).env,
      PORT: '0',
      DATABASE_URL: directUrl,
      DATABASE_DIRECT_URL: '',
      DATA_DIR: path.join(workDir, `${pass}-reconcile`),
      LOG_LEVEL: 'error',
    });
    let mismatches = -1;
    try {
      const parsed = JSON.parse(reconcile.out.slice(reconcile.out.indexOf('{'))) as {
        checked: number;
        mismatches: unknown[];
        unreachable: number;
      };
      mismatches = parsed.mismatches.length;
      report.checked.reconciled = parsed.checked;
      for (const mismatch of parsed.mismatches) violations.push(`reconcile: ${JSON.stringify(mismatch)}`);
      if (parsed.unreachable > 0)
        violations.push(`reconcile: PayPal did not answer for ${parsed.unreachable} booking(s)`);
    } catch {
      violations.push(`reconcile could not run (exit ${reconcile.code}): ${reconcile.out.slice(0, 500)}`);
    }
    if (reconcile.code !== 0 && mismatches === 0) violations.push(`reconcile exited ${reconcile.code}`);
    for (const [key, n] of Object.entries(figures.http5xx))
      if (key.startsWith('500'))
        violations.push(`${n} unexpected ${key} answer(s) (a fault must answer 502/503, not 500)`);
    const [bookingStates] = (
      await side.query<Record<string, number>>(
        `SELECT count(*) FILTER (WHERE status = 'CONFIRMED')::int AS confirmed,
                count(*) FILTER (WHERE status = 'EXPIRED')::int AS expired,
                count(*) FILTER (WHERE status = 'CANCELLED')::int AS cancelled,
                count(*) FILTER (WHERE status = 'REFUNDED')::int AS refunded,
                count(*) FILTER (WHERE status = 'HELD')::int AS held
           FROM bookings`,
      )
    ).rows;
    for (const [status, n] of Object.entries(bookingStates ?? {}))
      tally(figures, 'bookings at the end', `${status}: ${n}`);
    if (!broken && !(bookingStates?.expired && bookingStates.confirmed && bookingStates.refunded))
      violations.push(`the workload did not reach every state: ${JSON.stringify(bookingStates)}`);
    if (!broken && figures.kills === 0) violations.push('no server was killed');
    return { pass, seconds, journeys, figures, checked: report.checked, violations };
  } finally {
    await cleanup();
  }
}

function printPass(result: PassResult): void {
  const rows: [string, string, string][] = [];
  for (const [kind, outcomes] of Object.entries(result.figures.ops).sort())
    for (const [outcome, n] of Object.entries(outcomes).sort((a, b) => b[1] - a[1]))
      rows.push([kind, outcome, String(n)]);
  rows.push(['', '', '']);
  for (const [kind, n] of Object.entries(result.figures.faults).sort()) rows.push(['fault injected', kind, String(n)]);
  rows.push(['server SIGKILLed / restarted', '', `${result.figures.kills} / ${result.figures.restarts}`]);
  rows.push(['database backends terminated', '', String(result.figures.terminatedBackends)]);
  for (const [key, n] of Object.entries(result.figures.http5xx).sort()) rows.push(['5xx seen', key, String(n)]);
  for (const [what, n] of Object.entries(result.checked)) rows.push(['checked', what, String(n)]);
  rows.push(['invariant violations', '', String(result.violations.length)]);
  const widths = [0, 1].map((i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  console.log(`\n== pass: ${result.pass} (${result.journeys} buyer journeys in ${result.seconds.toFixed(0)}s) ==`);
  for (const [a, b, c] of rows)
    console.log(`  ${a.padEnd(widths[0] ?? 0)}  ${b.padEnd(widths[1] ?? 0)}  ${c.padStart(6)}`);
  for (const violation of result.violations.slice(0, 30)) console.log(`  VIOLATION ${violation}`);
  if (result.violations.length > 30) console.log(`  ... and ${result.violations.length - 30} more`);
}

async function main(): Promise<number> {
  const workDir = await mkdtemp(path.join(tmpdir(), 'boxoffice-stress-'));
  // as root, the embedded PostgreSQL runs as its own user, which must be able to enter this folder
  if (process.getuid?.() === 0) await chmod(workDir, 0o755);
  let adminUrl = process.env.TEST_DATABASE_URL;
  let stopDb = async () => {};
  if (!adminUrl) {
    const db = await startEmbeddedPostgres({
      dataDir: path.join(workDir, 'db'),
      database: 'postgres',
      persistent: false,
    });
    adminUrl = db.url;
    stopDb = () => db.stop();
  }
  const results: PassResult[] = [];
  let failed = false;
  try {
    for (const pass of passes) {
      const result = await runPass(adminUrl, workDir, pass);
      results.push(result);
      printPass(result);
    }
  } catch (error) {
    failed = true;
    console.error(`[stress] the run broke off: ${(error as Error).stack ?? error}`);
    console.error(`[stress] server logs kept in ${workDir}`);
  } finally {
    await stopDb();
  }
  const violations = results.reduce((sum, result) => sum + result.violations.length, 0);
  const summary = {
    seed,
    broken,
    seconds: Math.round((performance.now() - began) / 1000),
    passes: results.map((result) => ({
      pass: result.pass,
      journeys: result.journeys,
      operations: Object.values(result.figures.ops).reduce(
        (sum, outcomes) => sum + Object.values(outcomes).reduce((a, b) => a + b, 0),
        0,
      ),
      faults: Object.values(result.figures.faults).reduce((a, b) => a + b, 0),
      kills: result.figures.kills,
      terminatedBackends: result.figures.terminatedBackends,
      http5xx: Object.values(result.figures.http5xx).reduce((a, b) => a + b, 0),
      violations: result.violations.length,
      figures: result.figures,
      checked: result.checked,
    })),
    violations,
  };
  console.log(`\nSTRESS_RESULT ${JSON.stringify(summary)}`);
  if (values.json) await writeFile(values.json, `${JSON.stringify(summary, null, 2)}\n`);
  if (!failed && (violations === 0 || broken)) await rm(workDir, { recursive: true, force: true });
  else if (!failed) console.log(`[stress] server logs kept in ${workDir}`);
  if (failed) return 2;
  if (broken) {
    if (violations > 0) {
      console.log(`[stress] with the ledger's row lock skipped the run found ${violations} violation(s): it can fail`);
      return 0;
    }
    console.log('[stress] the ledger ran without its row lock and nothing was caught: the stress run proves nothing');
    return 1;
  }
  console.log(violations === 0 ? '[stress] every invariant held' : `[stress] ${violations} invariant violation(s)`);
  return violations === 0 ? 0 : 1;
}

process.exitCode = await main();
process.exit();
