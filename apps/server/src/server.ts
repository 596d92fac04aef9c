import type { AddressInfo } from 'node:net';
import { createOrm, type EmbeddedDatabase, migrate, startEmbeddedPostgres } from '@boxoffice/db';
import { serve } from '@hono/node-server';
import { buildApp } from './app.ts';
import type { Config } from './config.ts';
import { housekeeping, jobHandlers } from './jobs/handlers.ts';
import { JobWorker } from './jobs/job-queue.ts';
import { type Clock, systemClock } from './lib/clock.ts';
import { Metrics } from './lib/metrics.ts';
import { MemoryRateLimitStore, RateLimiter } from './lib/rate-limit.ts';
import { devSecretsPath, loadOrCreateDevSecrets } from './lib/secrets.ts';
import { createLogger, type Logger } from './logger.ts';
import { ensureAdmin } from './modules/auth/auth.service.ts';
import { TokenService } from './modules/auth/tokens.ts';
import { geocoderFromConfig } from './modules/events/geocoder.ts';
import type { CheckoutDeps } from './payments/checkout.service.ts';
import { createPayPalGateway, resolvePayPalSettings } from './payments/paypal/gateway.ts';
import { createReferenceSigner } from './payments/paypal/reference.ts';
import { createPayPalSimulator, SIMULATOR_MOUNT_PATH } from './payments/paypal/simulator.ts';
import type { AppDeps } from './trpc/context.ts';

export type AdminNotice = { email: string; created: boolean; passwordSource: 'env' | 'file'; file?: string };

export type RunningServer = {
  url: string;
  deps: AppDeps;
  admin: AdminNotice;
  databaseSource: 'url' | 'embedded';
  worker: JobWorker;
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
      embedded = await startEmbeddedPostgres({ dataDir: config.DATA_DIR, onLog: (line) => log.debug({ pg: line }) });
      cleanups.push(() => embedded?.stop() ?? Promise.resolve());
      url = embedded.url;
    }
    const orm = await createOrm({ url, poolMax: config.DATABASE_POOL_MAX });
    cleanups.push(() => orm.close(true));
    const applied = await migrate(orm);
    if (applied.length) log.info({ applied }, 'migrations applied');

    const needsDevSecrets = !config.JWT_SECRET_KEY || !config.JWT_REFRESH_TOKEN_KEY || !config.ADMIN_EMAIL;
    const dev = needsDevSecrets ? await loadOrCreateDevSecrets(config.DATA_DIR) : undefined;
    if (!config.JWT_SECRET_KEY)
      log.warn(
        { file: devSecretsPath(config.DATA_DIR) },
        'JWT_SECRET_KEY not set: using a generated development secret',
      );
    const tokens = new TokenService({
      jwtSecret: config.JWT_SECRET_KEY ?? dev?.jwtSecret ?? '',
      refreshKey: config.JWT_REFRESH_TOKEN_KEY ?? dev?.refreshKey ?? '',
      algorithm: config.ALGORITHM,
      accessTtlMinutes: config.ACCESS_TOKEN_EXPIRE_MINUTES,
      refreshTtlDays: config.REFRESH_TOKEN_EXPIRE_DAYS,
      clock,
    });

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
          { fetch: (request, env) => handler(request, env), port: config.PORT, hostname: config.LISTEN_HOST },
          () => resolve(s),
        );
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

    const paypal = resolvePayPalSettings(appConfig, selfUrl);
    if (paypal.warning) log.warn(paypal.warning);
    const paypalSimulator =
      paypal.mode === 'simulator'
        ? createPayPalSimulator({
            publicUrl: `${publicUrl}${SIMULATOR_MOUNT_PATH}`,
            clock,
          })
        : null;
    const checkout: CheckoutDeps = {
      gateway: createPayPalGateway({ ...paypal, log }),
      signer: createReferenceSigner(tokens.derivedKey('paypal-return-ref')),
      clock,
      log,
      publicUrl: () => publicUrl,
      settling: new Map(),
    };

    const metrics = new Metrics();
    const count = async (sql: string) => Number((await orm.em.fork().execute<{ n: number }[]>(sql))[0]?.n ?? 0);
    metrics.gauge('boxoffice_holds_open', 'Bookings currently HELD.', () =>
      count("SELECT count(*)::int AS n FROM bookings WHERE status = 'HELD'"),
    );
    metrics.gauge('boxoffice_jobs_pending', 'Jobs not yet done (hold expiry and others).', () =>
      count('SELECT count(*)::int AS n FROM jobs WHERE done_at IS NULL'),
    );

    const deps: AppDeps = {
      config: appConfig,
      orm,
      log,
      clock,
      tokens,
      rateLimiter: new RateLimiter(new MemoryRateLimitStore(), () => clock.now().getTime()),
      metrics,
      geocoder: geocoderFromConfig(config),
      checkout,
      paypalSimulator,
    };
    const app = buildApp(deps);
    handler = (request, env) => app.fetch(request, env);

    const worker = new JobWorker({
      orm,
      clock,
      log,
      handlers: jobHandlers({ orm, clock, checkout }),
    });
    if (opts.pollJobs !== false) {
      worker.start();
      const sweep = setInterval(() => {
        housekeeping(orm.em.fork(), clock.now()).catch((error: unknown) =>
          log.warn({ err: error }, 'housekeeping failed'),
        );
      }, 10 * 60_000);
      sweep.unref();
      cleanups.push(async () => clearInterval(sweep));
    }
    cleanups.push(() => worker.stop());

    const listenUrl = publicUrl;
    return { url: listenUrl, deps, admin, databaseSource: embedded ? 'embedded' : 'url', worker, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
