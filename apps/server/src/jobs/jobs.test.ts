import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@boxoffice/db';
import { parseCrontab } from 'graphile-worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { manualClock } from '../lib/clock.ts';
import { createLogger } from '../logger.ts';
import { expectBalanced, makeBuyers, seedEvent, startPayment } from '../test/fixtures.ts';
import { startTestServer, type TestServer } from '../test/harness.ts';
import { ClockJobWorker } from './clock-worker.ts';
import { HOUSEKEEPING_CRONTAB, housekeepingJobs } from './housekeeping.ts';
import { enqueueJob, scheduleJob } from './job-queue.ts';
import { LEASE_MS } from './leases.ts';
import { type JobHandler, type JobHandlers, type TaskName, taskNames } from './tasks.ts';
import { JobWorker } from './worker.ts';

const TTL_MS = 15 * 60_000;
const clock = manualClock(new Date('2026-12-01T10:00:00Z'));
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    clock,
    pollJobs: false,
    env: { HOLD_TTL_MINUTES: '15', ACCESS_TOKEN_EXPIRE_MINUTES: '600' },
  });
});
afterAll(() => server?.close());

/** A worker on this file's database that runs what is due by the test clock. */
const clockWorker = (handlers: JobHandlers) =>
  new ClockJobWorker({ databaseUrl: server.databaseUrl, clock, log: createLogger('silent'), handlers });

function deferred() {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A log whose lines a test can read. */
function capturedLog() {
  const lines: { level: number; msg: string }[] = [];
  const log = createLogger('debug', { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

type Call = { task: TaskName; bookingId: string | undefined; jobId: string };

/** Handlers that only write down what ran (one may be replaced); on this file's database. */
function recording(replace: Partial<JobHandlers> = {}) {
  const calls: Call[] = [];
  const record =
    (task: TaskName): JobHandler<TaskName> =>
    async (payload, job) => {
      calls.push({ task, bookingId: 'bookingId' in payload ? payload.bookingId : undefined, jobId: job.id });
    };
  const handlers: JobHandlers = {
    'expire-hold': record('expire-hold'),
    'reconcile-payment': record('reconcile-payment'),
    'paypal-webhook': record('paypal-webhook'),
    'refund-booking': record('refund-booking'),
    'send-mail': record('send-mail'),
    'admit-buyers': record('admit-buyers'),
    'waitlist-offer': record('waitlist-offer'),
    housekeeping: record('housekeeping'),
    ...replace,
  };
  return { handlers, calls, of: (bookingId: string) => calls.filter((call) => call.bookingId === bookingId) };
}

const inTransaction = <T>(work: (tx: EntityManager) => Promise<T>) => server.deps.orm.em.fork().transactional(work);
const jobsOf = (bookingId: string) =>
  server.sql<{ id: string; key: string | null; locked: boolean; attempts: number; max_attempts: number }>(
    `SELECT j.id::text AS id, j.key, j.locked_at IS NOT NULL AS locked, j.attempts, j.max_attempts
     FROM graphile_worker.jobs j JOIN graphile_worker._private_jobs p ON p.id = j.id
     WHERE p.payload->>'bookingId' = ? ORDER BY j.id`,
    [bookingId],
  );

describe('scheduling a job', () => {
  it('in a transaction that rolls back schedules nothing; one that commits schedules it', async () => {
    const { handlers, of } = recording();
    const worker = clockWorker(handlers);
    const rolledBack = randomUUID();
    await expect(
      inTransaction(async (tx) => {
        await scheduleJob(tx, 'expire-hold', { bookingId: rolledBack }, { runAt: clock.now(), jobKey: rolledBack });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    const committed = randomUUID();
    await inTransaction((tx) =>
      scheduleJob(tx, 'expire-hold', { bookingId: committed }, { runAt: clock.now(), jobKey: committed }),
    );

    expect(await jobsOf(rolledBack)).toEqual([]);
    await worker.runDue();
    expect(of(rolledBack)).toEqual([]);
    expect(of(committed)).toHaveLength(1);
    expect(await jobsOf(committed)).toEqual([]); // done: graphile-worker deletes it
    await worker.stop();
  });

  it('again with the same key, while it waits, moves it (one job, the new time)', async () => {
    const { handlers, of } = recording();
    const worker = clockWorker(handlers);
    const bookingId = randomUUID();
    const at = (minutes: number) => new Date(clock.now().getTime() + minutes * 60_000);
    await inTransaction((tx) => scheduleJob(tx, 'expire-hold', { bookingId }, { runAt: at(10), jobKey: bookingId }));
    await inTransaction((tx) =>
      enqueueJob(tx, { queue: 'expire-hold', payload: { bookingId }, runAt: at(20), dedupeKey: bookingId }),
    );
    // same key, other task: a job of its own
    await inTransaction((tx) =>
      scheduleJob(tx, 'reconcile-payment', { bookingId }, { runAt: at(30), jobKey: bookingId }),
    );
    expect((await jobsOf(bookingId)).map((job) => job.key)).toEqual([
      `expire-hold:${bookingId}`,
      `reconcile-payment:${bookingId}`,
    ]);

    clock.advance(15 * 60_000);
    await worker.runDue();
    expect(of(bookingId)).toEqual([]);
    clock.advance(10 * 60_000);
    await worker.runDue();
    expect(of(bookingId).map((call) => call.task)).toEqual(['expire-hold']);
    clock.advance(10 * 60_000);
    await worker.runDue();
    expect(of(bookingId).map((call) => call.task)).toEqual(['expire-hold', 'reconcile-payment']);
    await worker.stop();
  });

  it('again while it runs makes it run once more, after the change that scheduled it', async () => {
    const started = deferred();
    const release = deferred();
    const seen: string[] = [];
    const { handlers } = recording({
      'expire-hold': async ({ bookingId }) => {
        seen.push(bookingId);
        if (seen.length === 1) {
          started.resolve();
          await release.promise;
        }
      },
    });
    const worker = clockWorker(handlers);
    const bookingId = randomUUID();
    await inTransaction((tx) =>
      scheduleJob(tx, 'expire-hold', { bookingId }, { runAt: clock.now(), jobKey: bookingId }),
    );

    const running = worker.runDue();
    await started.promise;
    await inTransaction((tx) =>
      scheduleJob(tx, 'expire-hold', { bookingId }, { runAt: clock.now(), jobKey: bookingId }),
    );
    // what graphile-worker does with a locked job: the running copy loses the key and its retries,
    // a new job takes the key
    const [runningCopy, next] = await jobsOf(bookingId);
    expect(runningCopy).toMatchObject({ key: null, locked: true });
    expect(runningCopy?.attempts).toBe(runningCopy?.max_attempts);
    expect(next).toMatchObject({ key: `expire-hold:${bookingId}`, locked: false, attempts: 0 });

    release.resolve();
    expect(await running).toBe(2);
    expect(seen).toEqual([bookingId, bookingId]);
    expect(await jobsOf(bookingId)).toEqual([]);
    await worker.stop();
  });

  it('refuses a payload that does not fit its task, before anything is stored', async () => {
    const bookingId = randomUUID();
    await expect(
      inTransaction((tx) =>
        // @ts-expect-error the payload of expire-hold is { bookingId }
        scheduleJob(tx, 'expire-hold', { booking: bookingId }, { runAt: clock.now() }),
      ),
    ).rejects.toBeInstanceOf(ZodError);
    await expect(
      inTransaction((tx) => scheduleJob(tx, 'reconcile-payment', { bookingId: 'not-a-uuid' }, { runAt: clock.now() })),
    ).rejects.toBeInstanceOf(ZodError);
    await expect(
      inTransaction((tx) =>
        enqueueJob(tx, {
          // @ts-expect-error no such task
          queue: 'expire-holds',
          payload: { bookingId },
          runAt: clock.now(),
        }),
      ),
    ).rejects.toThrow();
    expect(await jobsOf(bookingId)).toEqual([]);
  });
});

describe('running jobs', () => {
  it('a malformed stored payload is dropped with an error logged; the worker goes on', async () => {
    const { handlers, calls, of } = recording();
    const { log, lines } = capturedLog();
    const worker = new ClockJobWorker({ databaseUrl: server.databaseUrl, clock, log, handlers });
    const good = randomUUID();
    // written by something other than scheduleJob (an older release, a hand-made row)
    const [bad] = await server.sql<{ id: string }>(
      `SELECT id::text AS id FROM graphile_worker.add_job('expire-hold', '{"bookingId": 42}'::json, run_at => ?)`,
      [clock.now()],
    );
    await inTransaction((tx) => scheduleJob(tx, 'expire-hold', { bookingId: good }, { runAt: clock.now() }));

    await worker.runDue();
    expect(of(good)).toHaveLength(1);
    expect(calls.some((call) => call.jobId === bad?.id)).toBe(false);
    expect(await server.sql('SELECT 1 FROM graphile_worker.jobs WHERE id = ?', [bad?.id])).toEqual([]);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 50, msg: 'job payload does not match its task: dropped without running' }),
    );
    // and it keeps working
    const later = randomUUID();
    await inTransaction((tx) => scheduleJob(tx, 'expire-hold', { bookingId: later }, { runAt: clock.now() }));
    await worker.runDue();
    expect(of(later)).toHaveLength(1);
    await worker.stop();
  });

  it('a failing job is retried later on the clock, with a growing delay', async () => {
    let failures = 3;
    const tried: Date[] = [];
    const { handlers } = recording({
      'reconcile-payment': async () => {
        tried.push(clock.now());
        if (failures-- > 0) throw new Error('PayPal is away');
      },
    });
    const worker = clockWorker(handlers);
    const bookingId = randomUUID();
    await inTransaction((tx) => scheduleJob(tx, 'reconcile-payment', { bookingId }, { runAt: clock.now() }));
    await worker.runDue();
    expect(tried).toHaveLength(1); // a failure waits for its backoff, even within one run
    for (let i = 0; i < 60 && tried.length < 4; i++) {
      clock.advance(1000);
      await worker.runDue();
    }
    expect(tried).toHaveLength(4);
    const gaps = tried.slice(1).map((at, i) => at.getTime() - (tried[i]?.getTime() ?? 0));
    expect(gaps[0]).toBeLessThan(gaps[2] ?? 0);
    expect(await jobsOf(bookingId)).toEqual([]);
    await worker.stop();
  });

  it('a job whose worker died while running it runs again once the lease has passed', async () => {
    const { handlers, of } = recording();
    const worker = clockWorker(handlers);
    const bookingId = randomUUID();
    const { jobId } = await inTransaction((tx) =>
      scheduleJob(tx, 'expire-hold', { bookingId }, { runAt: clock.now(), jobKey: bookingId }),
    );
    // what graphile-worker's claim does, by a worker that then never finishes or beats
    await server.sql(
      `UPDATE graphile_worker._private_jobs SET locked_at = ?, locked_by = 'pool-crashed', attempts = attempts + 1
       WHERE id = ?`,
      [clock.now(), jobId],
    );
    await worker.runDue();
    clock.advance(LEASE_MS - 1000);
    await worker.runDue();
    expect(of(bookingId)).toEqual([]);

    clock.advance(2000);
    await worker.runDue();
    expect(of(bookingId)).toHaveLength(1);
    expect(await jobsOf(bookingId)).toEqual([]);
    await worker.stop();
  });
});

describe('housekeeping', () => {
  it('is on the crontab, for a task we handle', () => {
    const [item] = parseCrontab(HOUSEKEEPING_CRONTAB);
    expect(item).toMatchObject({ task: 'housekeeping', options: { maxAttempts: 3 } });
    expect(taskNames).toContain(item?.task);
  });

  it('purges idempotency keys past their time and beats of workers long gone', async () => {
    const [buyer] = await makeBuyers(server, 1);
    const now = clock.now();
    const ago = (ms: number) => new Date(now.getTime() - ms);
    await server.sql(
      `INSERT INTO idempotency_keys (user_id, scope, key, request_hash, state, created_at, expires_at)
       VALUES (?, 'book', 'old', 'h', 'completed', ?, ?), (?, 'book', 'fresh', 'h', 'completed', ?, ?)`,
      [buyer!.id, ago(2 * 86_400_000), ago(86_400_000), buyer!.id, now, new Date(now.getTime() + 86_400_000)],
    );
    await server.sql(
      "INSERT INTO job_worker_heartbeats (worker_id, beat_at) VALUES ('pool-gone', ?), ('pool-recent', ?)",
      [ago(2 * 86_400_000), ago(60_000)],
    );
    const { orm } = server.deps;
    const worker = new ClockJobWorker({
      databaseUrl: server.databaseUrl,
      clock,
      log: createLogger('silent'),
      handlers: { ...recording().handlers, ...housekeepingJobs({ orm, clock }) },
    });
    await inTransaction((tx) => scheduleJob(tx, 'housekeeping', {}, { runAt: clock.now() }));
    await worker.runDue();
    const keys = await server.sql<{ key: string }>('SELECT key FROM idempotency_keys WHERE user_id = ?', [buyer!.id]);
    expect(keys.map((row) => row.key)).toEqual(['fresh']);
    const beats = await server.sql<{ worker_id: string }>(
      "SELECT worker_id FROM job_worker_heartbeats WHERE worker_id LIKE 'pool-%' ORDER BY worker_id",
    );
    expect(beats.map((row) => row.worker_id)).toEqual(['pool-recent']);
    await worker.stop();
  });
});

describe('two server instances on one database', () => {
  it('an expiring hold is released exactly once', async () => {
    const other = await startTestServer({
      shareDatabaseOf: server,
      clock,
      pollJobs: false,
      env: { HOLD_TTL_MINUTES: '15', ACCESS_TOKEN_EXPIRE_MINUTES: '600' },
    });
    try {
      const eventId = await seedEvent(server, { capacity: 3 });
      const [buyer] = await makeBuyers(server, 1);
      const held = await server.http('POST', `/api/events/${eventId}/book`, {
        token: buyer!.token,
        body: { quantity: 2 },
      });
      expect(held.status).toBe(200);
      // the buyer went to pay: the hold has a PayPal order, so its release schedules a reconcile
      await startPayment(held.body);
      expect(await expectBalanced(server, eventId)).toMatchObject({ available: 1, held: 2 });

      clock.advance(TTL_MS + 1000);
      const [a, b] = await Promise.all([server.worker.runDue(), other.worker.runDue()]);
      // the expiry and the payment reconcile it schedules: each once, in one instance or the other
      expect(a + b).toBe(2);
      expect(await expectBalanced(server, eventId)).toMatchObject({ available: 3, held: 0, sold: 0 });
      const [row] = await server.sql<{ status: string; expired_at: string | null }>(
        'SELECT status, expired_at FROM bookings WHERE id = ?',
        [held.body.id],
      );
      expect(row?.status).toBe('EXPIRED');
      expect(row?.expired_at).not.toBeNull();
      expect(await jobsOf(held.body.id)).toEqual([]);
      expect(await Promise.all([server.worker.runDue(), other.worker.runDue()])).toEqual([0, 0]);
    } finally {
      await other.close();
    }
  });
});

describe('the production worker (real time, LISTEN/NOTIFY)', () => {
  let live: TestServer;
  beforeAll(async () => {
    live = await startTestServer({ env: { ACCESS_TOKEN_EXPIRE_MINUTES: '600' } });
  });
  afterAll(() => live?.close());

  const waitFor = async (what: string, check: () => Promise<boolean>, ms = 10_000) => {
    const until = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  it('two polling instances release a lapsed hold once, and the gauge counts what is left', async () => {
    const other = await startTestServer({ shareDatabaseOf: live });
    try {
      const eventId = await seedEvent(live, { capacity: 3 });
      const [buyer] = await makeBuyers(live, 1);
      const held = await live.http('POST', `/api/events/${eventId}/book`, {
        token: buyer!.token,
        body: { quantity: 2 },
      });
      expect(held.status).toBe(200);
      const bookingId = held.body.id as string;
      const pending = async () => (await live.http('GET', '/metrics')).body as string;
      expect(await pending()).toMatch(/^boxoffice_jobs_pending 1$/m); // its expiry, fifteen minutes away
      // let the hold lapse now rather than in fifteen minutes, and bring its expiry forward
      await live.sql("UPDATE bookings SET hold_expires_at = now() - interval '1 second' WHERE id = ?", [bookingId]);
      await live.deps.orm.em
        .fork()
        .transactional((tx) => scheduleJob(tx, 'expire-hold', { bookingId }, { runAt: new Date(), jobKey: bookingId }));
      const status = async () =>
        (await live.sql<{ status: string }>('SELECT status FROM bookings WHERE id = ?', [bookingId]))[0]?.status;
      await waitFor('the expiry', async () => (await status()) === 'EXPIRED');
      await waitFor('the jobs to finish', async () => (await jobsOfIn(live, bookingId)).length === 0);
      expect(await expectBalanced(live, eventId)).toMatchObject({ available: 3, held: 0 });
      expect(await pending()).toMatch(/^boxoffice_jobs_pending 0$/m);
    } finally {
      await other.close();
    }
  });

  it('a live pool keeps its slow job past the lease; a silent pool loses its jobs to the others', async () => {
    const started = deferred();
    const release = deferred();
    const slow: string[] = [];
    const { handlers, of } = recording({
      'expire-hold': async ({ bookingId }) => {
        slow.push(bookingId);
        started.resolve();
        await release.promise;
      },
    });
    // a database no server works on: only these two pools take its jobs
    const quiet = await startTestServer({ pollJobs: false });
    const lease = { leaseMs: 1500, heartbeatMs: 200 };
    const opts = { databaseUrl: quiet.databaseUrl, clock: quiet.deps.clock, log: createLogger('silent'), handlers };
    const first = new JobWorker({ ...opts, ...lease });
    const second = new JobWorker({ ...opts, ...lease });
    try {
      await first.start();
      const slowId = randomUUID();
      await quiet.deps.orm.em
        .fork()
        .transactional((tx) => scheduleJob(tx, 'expire-hold', { bookingId: slowId }, { runAt: new Date() }));
      await started.promise;

      // a job claimed by a pool that then died: scheduled for later, so no live pool takes it first,
      // then locked and made due at once, as graphile-worker's claim leaves it
      const orphanId = randomUUID();
      const { jobId } = await quiet.deps.orm.em
        .fork()
        .transactional((tx) =>
          scheduleJob(tx, 'reconcile-payment', { bookingId: orphanId }, { runAt: new Date(Date.now() + 3_600_000) }),
        );
      await quiet.sql(
        `UPDATE graphile_worker._private_jobs
         SET run_at = now(), locked_at = now(), locked_by = 'pool-crashed', attempts = 1 WHERE id = ?`,
        [jobId],
      );
      await second.start();
      await waitFor('the orphaned job to run', async () => of(orphanId).length === 1);
      await new Promise((resolve) => setTimeout(resolve, 2 * lease.leaseMs));
      expect(slow).toEqual([slowId]); // never taken from the pool that is still working on it
      release.resolve();
      await waitFor('the slow job to finish', async () => (await jobsOfIn(quiet, slowId)).length === 0);
      expect(slow).toEqual([slowId]);
    } finally {
      release.resolve();
      await Promise.all([first.stop(), second.stop()]);
      await quiet.close();
    }
  });
});

function jobsOfIn(target: TestServer, bookingId: string) {
  return target.sql(`SELECT p.id FROM graphile_worker._private_jobs p WHERE p.payload->>'bookingId' = ?`, [bookingId]);
}
