import { randomBytes } from 'node:crypto';
import { createTestDatabase } from '@boxoffice/db/testing';
import { type ListeningPayPalSimulator, listenPayPalSimulator } from '@boxoffice/paypal-simulator';
import { inject } from 'vitest';
import { loadConfig } from '../config.ts';
import type { Clock } from '../lib/clock.ts';
import { createLogger, type Logger } from '../logger.ts';
import { type RunningServer, startServer } from '../server.ts';

export const ADMIN = { email: 'admin@example.test', username: 'admin', password: 'admin-password-123' };
export const TEST_SECRETS = {
  JWT_SECRET_KEY: 'test-jwt-secret-that-is-long-enough-0123456789',
  JWT_REFRESH_TOKEN_KEY: 'test-refresh-key-that-is-long-enough-0123456789',
};

/**
 * A parsed response body as tests read it: deliberately unchecked, since the assertions on it are
 * the check. Production code and the SDK never use this type.
 */
// biome-ignore lint/suspicious/noExplicitAny: test-only view of arbitrary JSON
export type LooseJson = any;

export type HttpResult<T = LooseJson> = { status: number; headers: Headers; body: T };

export type TestServer = RunningServer & {
  databaseUrl: string;
  /** Where this server's PayPal simulator lives (its approval page and API), in either mode. */
  paypalSimulatorUrl: string;
  /** JSON request against the listening server; returns status, headers and parsed body. */
  http: <T = LooseJson>(
    method: string,
    path: string,
    init?: { body?: unknown; token?: string; headers?: Record<string, string> },
  ) => Promise<HttpResult<T>>;
  sql: <T = Record<string, unknown>>(query: string, params?: unknown[]) => Promise<T[]>;
  close: () => Promise<void>;
};

export type TestServerOptions = {
  env?: Record<string, string>;
  clock?: Clock;
  log?: Logger;
  pollJobs?: boolean;
  /**
   * Serve the database of an already running test server (a second instance of the same
   * deployment); closing this one leaves the database to its owner.
   */
  shareDatabaseOf?: TestServer;
  /** Which PayPal simulator this server uses; by default the one TEST_PAYPAL_SIMULATOR names. */
  paypalSimulator?: PayPalSimulatorMode;
};

/**
 * The PayPal the test servers talk to.
 * - `in-process` (default): each server mounts its own simulator under /paypal-sim: offline mode.
 * - `standalone`: every server of this test process talks over HTTP to one simulator on its own
 *   listener, configured as instances share an offline PayPal in a deployment: PAYPAL_API_BASE_URL
 *   plus that simulator's client id and secret. `server.deps.paypalSimulator` is then that shared
 *   simulator, so a test drives it the same way in both modes. Run the payments tests this way with
 *     TEST_PAYPAL_SIMULATOR=standalone pnpm exec vitest run apps/server/src/payments
 */
export type PayPalSimulatorMode = 'in-process' | 'standalone';

function paypalSimulatorModeFromEnv(): PayPalSimulatorMode {
  const value = process.env.TEST_PAYPAL_SIMULATOR;
  if (value === undefined || value === '' || value === 'in-process') return 'in-process';
  if (value === 'standalone') return 'standalone';
  throw new Error(`TEST_PAYPAL_SIMULATOR must be in-process or standalone, got "${value}"`);
}

let standaloneSimulator: Promise<ListeningPayPalSimulator> | undefined;
/** Started on first use and kept for the life of the test process; tests reset it between cases. */
function sharedStandaloneSimulator(): Promise<ListeningPayPalSimulator> {
  standaloneSimulator ??= listenPayPalSimulator({ faults: true, allowedRedirectPrefixes: [] });
  return standaloneSimulator;
}

/** A real server on a real, private PostgreSQL database, listening on a random loopback port. */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const database = opts.shareDatabaseOf
    ? { url: opts.shareDatabaseOf.databaseUrl, drop: async () => {} }
    : await createTestDatabase(inject('databaseAdminUrl'));
  const standalone =
    (opts.paypalSimulator ?? paypalSimulatorModeFromEnv()) === 'standalone' ? await sharedStandaloneSimulator() : null;
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    LISTEN_HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_USERNAME: ADMIN.username,
    ADMIN_PASSWORD: ADMIN.password,
    RATE_LIMIT_AUTH_PER_MINUTE: '0',
    RATE_LIMIT_LOGIN_FAILURES_PER_IP_PER_DAY: '0',
    RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_IP: '0',
    RATE_LIMIT_PAYMENT_PER_MINUTE: '0',
    RATE_LIMIT_PAYMENTS_PER_USER_PER_HOUR: '0',
    // tests read back at once what they just wrote; http-cache.test.ts turns the read cache on
    PUBLIC_CACHE_SECONDS: '0',
    LOG_LEVEL: 'silent',
    // the simulator as tests want it: fault injection on, state in memory only, webhooks only where a
    // test asks for them (PAYPAL_SIMULATOR_WEBHOOKS: 'true'), so they never race a test's own steps
    PAYPAL_SIMULATOR_FAULTS: 'true',
    PAYPAL_SIMULATOR_PERSIST: 'false',
    PAYPAL_SIMULATOR_WEBHOOKS: 'false',
    ...(standalone
      ? {
          PAYPAL_API_BASE_URL: standalone.baseUrl,
          PAYPAL_CLIENT_ID: standalone.credentials.clientId,
          PAYPAL_SECRET_KEY: standalone.credentials.clientSecret,
          PAYPAL_WEBHOOK_ID: `TEST${randomBytes(8).toString('hex').toUpperCase()}`,
        }
      : {}),
    ...TEST_SECRETS,
    ...opts.env,
  });
  const running = await startServer(config, {
    clock: opts.clock,
    log: opts.log ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    pollJobs: opts.pollJobs,
  });
  const http: TestServer['http'] = async (method, path, init = {}) => {
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    if (init.body !== undefined) headers['content-type'] ??= 'application/json';
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    const response = await fetch(`${running.url}${path}`, {
      method,
      headers,
      body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
      redirect: 'manual',
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, headers: response.headers, body: body as LooseJson };
  };
  // a test's own PayPal settings win over the shared simulator
  const shared = standalone && running.deps.config.PAYPAL_API_BASE_URL === standalone.baseUrl ? standalone : null;
  let webhook: { id: string } | undefined;
  if (shared) {
    shared.allowRedirectPrefix(`${running.url}/payments/paypal/return`);
    shared.allowRedirectPrefix(`${running.url}/payments/paypal/cancel`);
    // as the in-process simulator does in offline mode: this server gets the shared one's webhooks
    if (running.deps.config.PAYPAL_SIMULATOR_WEBHOOKS && running.deps.config.PAYPAL_WEBHOOK_ID)
      webhook = shared.addWebhook({ url: `${running.url}/webhooks/paypal`, id: running.deps.config.PAYPAL_WEBHOOK_ID });
  }
  return {
    ...running,
    deps: shared ? { ...running.deps, paypalSimulator: shared } : running.deps,
    databaseUrl: database.url,
    paypalSimulatorUrl: shared ? shared.baseUrl : `${running.url}/paypal-sim`,
    http,
    sql: (query, params = []) => running.deps.orm.em.fork().execute(query, params as never[]) as never,
    close: async () => {
      if (webhook) shared?.removeWebhook(webhook.id);
      await running.stop();
      await database.drop();
    },
  };
}

let userCounter = 0;
/** Registers and signs in a fresh user; returns its tokens and id. */
export async function signUp(server: TestServer, prefix = 'user') {
  userCounter += 1;
  const email = `${prefix}-${process.pid}-${userCounter}-${Date.now()}@example.test`;
  const password = 'a-long-enough-password';
  const reg = await server.http('POST', '/api/auth/register', {
    body: { email, username: `${prefix}${userCounter}`, password },
  });
  if (reg.status !== 200) throw new Error(`register failed: ${JSON.stringify(reg.body)}`);
  const login = await server.http('POST', '/api/auth/login', { body: { email, password } });
  if (login.status !== 200) throw new Error(`login failed: ${JSON.stringify(login.body)}`);
  return {
    id: reg.body.id as string,
    email,
    password,
    accessToken: login.body.accessToken as string,
    refreshToken: login.body.refreshToken as string,
  };
}

export async function signInAdmin(server: TestServer) {
  const login = await server.http('POST', '/api/auth/login', {
    body: { email: ADMIN.email, password: ADMIN.password },
  });
  if (login.status !== 200) throw new Error(`admin login failed: ${JSON.stringify(login.body)}`);
  return { id: login.body.user.id as string, accessToken: login.body.accessToken as string };
}
