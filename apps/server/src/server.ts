import type { AddressInfo } from 'node:net';
import { createOrm, type EmbeddedDatabase, migrate, startEmbeddedPostgres } from '@boxoffice/db';
import { migrateJobQueue } from '@boxoffice/db/job-queue';
import { serve } from '@hono/node-server';
import { buildApp } from './app.ts';
import type { Config } from './config.ts';
import { type AppDeps, buildDeps } from './deps.ts';
import { handleClientErrors, httpServerOptions } from './http-errors.ts';
import { workerLogger } from './jobs/task-list.ts';
import { createJobWorker, type JobRunner } from './jobs/worker.ts';
import { type Clock, systemClock } from './lib/clock.ts';
import { devSecretsPath, loadOrCreateDevSecrets } from './lib/secrets.ts';
import { createLogger, type Logger } from './logger.ts';
import { ensureAdmin } from './modules/auth/auth.service.ts';
import { skipInventoryRowLockForTests } from './modules/inventory/ledger.ts';

export type AdminNotice = { email: string; created: boolean; passwordSource: 'env' | 'file'; file?: string };

export type RunningServer = {
  url: string;
  deps: AppDeps;
  admin: AdminNotice;
  databaseSource: 'url' | 'embedded';
  worker: JobRunner;
  stop: () => Promise<void>;
};

export type StartOptions = {
  log?: Logger;
  clock?: Clock;
  listen?: boolean;
  /** false: jobs run only when `worker.runDue()` is called (tests that drive time by hand). */
  pollJobs?: boolean;
};

/** Wires database, migrations, admin, app and HTTP listener; `stop` undoes it all in reverse. */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  const clock = opts.clock ?? systemClock;
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log.error({ err: error }, 'shutdown step failed');
      }
    }
  };
  try {
    let url = config.DATABASE_URL;
    let embedded: EmbeddedDatabase | undefined;
    if (!url) {
      log.info({ dataDir: config.DATA_DIR }, 'starting embedded PostgreSQL');
      embedded = await startEmbeddedPostgres({
        dataDir: config.DATA_DIR,
        // main.ts stops the server on SIGINT/SIGTERM, this database last
        stoppedByOwnerOnSignals: true,
        onLog: (line) => log.debug({ pg: line }),
        onNotice: (message) => log.warn(message),
      });
      cleanups.push(() => embedded?.stop() ?? Promise.resolve());
      url = embedded.url;
    }
    // DATABASE_URL may be a transaction-pooling pgbouncer; migrations and the job queue's
    // LISTEN/NOTIFY need a session of their own, so they connect to DATABASE_DIRECT_URL
    const directUrl = config.DATABASE_DIRECT_URL ?? url;
    const pooled = directUrl !== url;
    const orm = await createOrm({
      url,
      poolMax: config.DATABASE_POOL_MAX,
      acquireTimeoutMs: config.DATABASE_ACQUIRE_TIMEOUT_MS,
      statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      transactionPooler: pooled,
    });
    cleanups.push(() => orm.close(true));
    const migrator = pooled ? await createOrm({ url: directUrl, poolMax: 1 }) : orm;
    try {
      const applied = [...(await migrate(migrator)), ...(await migrateJobQueue(migrator, workerLogger(log)))];
      if (applied.length) log.info({ applied }, 'migrations applied');
    } finally {
      if (migrator !== orm) await migrator.close(true);
    }
    if (config.LEDGER_UNSAFE_SKIP_ROW_LOCK) {
      log.warn('LEDGER_UNSAFE_SKIP_ROW_LOCK: ticket counts are read without the row lock (a test of the tests)');
      skipInventoryRowLockForTests();
    }

    const needsDevSecrets = !config.JWT_SECRET_KEY || !config.JWT_REFRESH_TOKEN_KEY || !config.ADMIN_EMAIL;
    const dev = needsDevSecrets ? await loadOrCreateDevSecrets(config.DATA_DIR) : undefined;
    if (!config.JWT_SECRET_KEY)
      log.warn(
        { file: devSecretsPath(config.DATA_DIR) },
        'JWT_SECRET_KEY not set: using a generated development secret',
      );
    const seed = config.ADMIN_EMAIL
      ? { email: config.ADMIN_EMAIL, username: config.ADMIN_USERNAME ?? 'admin', password: config.ADMIN_PASSWORD ?? '' }
      : { email: 'admin@boxoffice.local', username: 'admin', password: dev?.adminPassword ?? '' };
    const created = (await ensureAdmin(orm.em.fork(), seed)) === 'created';
    const admin: AdminNotice = config.ADMIN_EMAIL
      ? { email: seed.email, created, passwordSource: 'env' }
      : { email: seed.email, created, passwordSource: 'file', file: devSecretsPath(config.DATA_DIR) };

    // Listen first: the public URL (and so PayPal's return links) depends on the port we get.
    // the node-server bindings (env) carry the socket, which the app reads for the client address
    let handler: (request: Request, env: unknown) => Response | Promise<Response> = () =>
      Response.json({ error: { code: 'NOT_READY', message: 'Starting up' } }, { status: 503 });
    let selfUrl = `http://127.0.0.1:${config.PORT}`;
    let publicUrl = config.publicUrl;
    if (opts.listen !== false) {
      const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
        const s = serve(
          {
            fetch: (request, env) => handler(request, env),
            port: config.PORT,
            hostname: config.LISTEN_HOST,
            serverOptions: httpServerOptions({
              headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
              requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
            }),
          },
          () => resolve(s),
        );
        handleClientErrors(s);
      });
      const port = (server.address() as AddressInfo).port;
      selfUrl = `http://127.0.0.1:${port}`;
      if (!config.HOST) publicUrl = `http://localhost:${port}`;
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            // stop accepting, let in-flight requests finish, then drop idle keep-alive sockets
            server.close(() => resolve());
            (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
          }),
      );
    }
    const appConfig: Config = { ...config, publicUrl };

    const { deps, jobHandlers, close } = await buildDeps({
      config: appConfig,
      orm,
      log,
      clock,
      selfUrl,
      devSecrets: dev,
    });
    // unshift: cleanups run in reverse, so this runs after the HTTP server has finished its requests
    cleanups.unshift(close);
    const app = buildApp(deps);
    handler = (request, env) => app.fetch(request, env);

    const worker = createJobWorker({
      databaseUrl: directUrl,
      clock,
      log,
      handlers: jobHandlers,
      leaseMs: config.JOB_LEASE_SECONDS * 1000,
      heartbeatMs: Math.min(30_000, (config.JOB_LEASE_SECONDS * 1000) / 4),
    });
    cleanups.push(() => worker.stop());
    if (opts.pollJobs !== false) await worker.start();

    const listenUrl = publicUrl;
    return { url: listenUrl, deps, admin, databaseSource: embedded ? 'embedded' : 'url', worker, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
