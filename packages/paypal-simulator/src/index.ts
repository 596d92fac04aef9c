import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { approvalPages } from './approval-pages.ts';
import { createControls, type PayPalSimulatorControls } from './controls.ts';
import { createFaults, faultControlRoutes } from './faults.ts';
import { createTokens, generateCredentials, type MerchantCredentials, oauthRoutes } from './oauth.ts';
import { createRequestLog, operationRunner, type SimEnv } from './operations.ts';
import { ordersRoutes } from './orders.routes.ts';
import { paymentsRoutes } from './payments.routes.ts';
import { createRedirectPolicy } from './redirects.ts';
import { type Clock, createStore, systemClock } from './state.ts';
import { createStateFile, loadStateFile, type StateLog } from './state-file.ts';
import { createWebhooks, type SimWebhookSubscription } from './webhooks.ts';
import { createViews, paypalError } from './wire.ts';

/**
 * A stand-in for PayPal's REST API (OAuth token, Orders v2, captures, refunds) plus the buyer's
 * approval page. It speaks PayPal's wire format closely enough that the unmodified
 * @paypal/paypal-server-sdk works against it. It runs inside a server (Boxoffice's offline mode,
 * mounted under /paypal-sim) or on its own port (`main.ts`), shared by several servers.
 *
 * It is safe on a public host: the merchant API needs the merchant's credentials (random unless
 * given), the approval page redirects only under `allowedRedirectPrefixes`, and fault injection
 * exists only with `faults: true`.
 */

export type { PayPalSimulatorControls } from './controls.ts';
export type { SimCaptureBehaviour, SimFaultTiming, SimRefundBehaviour } from './faults.ts';
export { FaultsDisabledError } from './faults.ts';
export type { MerchantCredentials } from './oauth.ts';
export type { SimEnv, SimOperation, SimRequest } from './operations.ts';
export { SIM_OPERATIONS } from './operations.ts';
export { appendQuery } from './redirects.ts';
export type {
  Clock,
  SimCapture,
  SimCaptureStatus,
  SimMoney,
  SimOrder,
  SimOrderStatus,
  SimPayer,
  SimRefund,
} from './state.ts';
export type { StateLog } from './state-file.ts';
export type {
  DeliverOptions,
  SimWebhookDelivery,
  SimWebhookEvent,
  SimWebhookEventType,
  SimWebhookSubscription,
} from './webhooks.ts';
export { AUTH_ALGO, WEBHOOK_EVENT_TYPES, WEBHOOK_RETRY_DELAYS_MS } from './webhooks.ts';

/** Where a standalone simulator mounts itself by default, matching the server's offline mode. */
export const DEFAULT_MOUNT_PATH = '/paypal-sim';

export type PayPalSimulatorOptions = {
  /** Where browsers and API clients reach this app, e.g. http://localhost:3000/paypal-sim. */
  publicUrl: string;
  /**
   * Return and cancel URLs must lie under one of these (same origin, path at or below the prefix's),
   * e.g. http://localhost:3000/payments/paypal/return. An order with any other URL is refused (422).
   */
  allowedRedirectPrefixes: readonly string[];
  /** The merchant's credentials; give both or neither. Without them a random pair is made (see `credentials`). */
  clientId?: string;
  clientSecret?: string;
  merchantName?: string;
  /** Linked from the page a buyer sees when the checkout no longer exists. */
  homeUrl?: string;
  tokenTtlSeconds?: number;
  /** PayPal keeps PayPal-Request-Id keys about 6 hours. */
  idempotencyTtlSeconds?: number;
  /** PayPal's default account setting blocks a second payment with the same invoice_id. */
  allowDuplicateInvoiceId?: boolean;
  /** Fault injection: the controls that make PayPal misbehave, and POST /__sim/* to drive them over HTTP. */
  faults?: boolean;
  /** Listeners that get webhook notifications from the start (more with `addWebhook`). */
  webhooks?: { url: string; id?: string }[];
  /** Orders, captures and refunds are kept in this JSON file across restarts; without it, in memory only. */
  stateFile?: string;
  /** Debounce of state file writes (default 500 ms); `flush` and `close` write at once. */
  stateWriteDelayMs?: number;
  log?: StateLog;
  clock?: Clock;
};

export type PayPalSimulator = {
  app: Hono<SimEnv>;
  controls: PayPalSimulatorControls;
  /** The merchant's client id and secret: for the gateway only, never for a buyer or a log line. */
  credentials: MerchantCredentials;
  /** Allows one more return/cancel URL prefix, e.g. for a server instance that starts later. */
  allowRedirectPrefix(prefix: string): void;
  /**
   * Subscribes a listener to every webhook event, as a webhook set up in PayPal's developer
   * dashboard does; the id (generated when not given) is the webhook id signatures are made for.
   */
  addWebhook(subscription: { url: string; id?: string }): SimWebhookSubscription;
  /** Stops the webhook's deliveries (only those to `url`, if given). */
  removeWebhook(id: string, url?: string): void;
  /** Where the certificate that signs webhooks is served (the PAYPAL-CERT-URL of every delivery). */
  webhookCertificateUrl: string;
  /** That certificate, PEM: a listener that trusts this simulator can pin it instead of fetching it. */
  webhookCertificatePem: string;
  /** Resolves when every change so far is in the state file (at once without one). */
  flush(): Promise<void>;
  /** Call on a clean stop: nothing changed before it is lost. */
  close(): Promise<void>;
};

function credentialsFrom(opts: PayPalSimulatorOptions): MerchantCredentials {
  if (opts.clientId === undefined && opts.clientSecret === undefined) return generateCredentials();
  if (!opts.clientId || !opts.clientSecret) {
    throw new TypeError('PayPal simulator: give clientId and clientSecret together, or neither');
  }
  return { clientId: opts.clientId, clientSecret: opts.clientSecret };
}

export function createPayPalSimulator(opts: PayPalSimulatorOptions): PayPalSimulator {
  const publicUrl = opts.publicUrl.replace(/\/+$/, '');
  // Forms post to a path (not an absolute URL) so the page works under whatever host the browser used.
  const formBase = new URL(publicUrl).pathname.replace(/\/+$/, '');
  const clock = opts.clock ?? systemClock;
  const credentials = credentialsFrom(opts);
  const redirects = createRedirectPolicy(opts.allowedRedirectPrefixes);

  let persist: (() => void) | undefined;
  const store = createStore({
    clock,
    idempotencyTtlMs: (opts.idempotencyTtlSeconds ?? 6 * 3600) * 1000,
    initial: opts.stateFile ? loadStateFile(opts.stateFile, opts.log) : null,
    onChange: () => persist?.(),
  });
  const stateFile = opts.stateFile
    ? createStateFile({
        file: opts.stateFile,
        snapshot: store.snapshot,
        log: opts.log,
        ...(opts.stateWriteDelayMs === undefined ? {} : { debounceMs: opts.stateWriteDelayMs }),
      })
    : undefined;
  persist = stateFile?.schedule;

  const faults = createFaults(opts.faults ?? false);
  const tokens = createTokens({ clock, ttlSeconds: opts.tokenTtlSeconds ?? 32_400 });
  const log = createRequestLog();
  const operation = operationRunner({ log, faults, tokens });
  const views = createViews(publicUrl);
  const webhooks = createWebhooks({ clock, publicUrl, views });
  for (const subscription of opts.webhooks ?? []) webhooks.subscribe(subscription);
  const controls = createControls({ store, faults, tokens, log, clock, webhooks });

  const app = new Hono<SimEnv>();
  app.use('*', log.middleware);
  app.route('/', oauthRoutes({ credentials, tokens, operation, clock }));
  app.route(
    '/',
    ordersRoutes({
      store,
      views,
      operation,
      faults,
      redirects,
      clock,
      allowDuplicateInvoiceId: opts.allowDuplicateInvoiceId ?? false,
      webhooks: webhooks.publish,
    }),
  );
  app.route('/', paymentsRoutes({ store, views, operation, faults, webhooks: webhooks.publish, clock }));
  app.route('/', webhooks.routes);
  app.route(
    '/',
    approvalPages({
      store,
      redirects,
      merchantName: opts.merchantName ?? 'Boxoffice',
      formBase,
      webhooks: webhooks.publish,
      ...(opts.homeUrl ? { homeUrl: opts.homeUrl } : {}),
    }),
  );
  if (faults.enabled) app.route('/', faultControlRoutes(controls));
  app.notFound((c) => paypalError(c, 404));
  app.onError((_error, c) => paypalError(c, 500));

  return {
    app,
    controls,
    credentials,
    allowRedirectPrefix: (prefix) => redirects.allow(prefix),
    addWebhook: (subscription) => webhooks.subscribe(subscription),
    removeWebhook: (id, url) => webhooks.unsubscribe(id, url),
    webhookCertificateUrl: webhooks.certificateUrl,
    webhookCertificatePem: webhooks.certificatePem,
    flush: () => stateFile?.flush() ?? Promise.resolve(),
    close: async () => {
      await webhooks.close();
      await (stateFile?.close() ?? Promise.resolve());
    },
  };
}

export type ListenOptions = Omit<PayPalSimulatorOptions, 'publicUrl'> & {
  hostname?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default /paypal-sim, like the server's offline mode; '' serves at the root. */
  mountPath?: string;
  /** Where browsers reach the listener, when not at http://hostname:port (a proxy, 0.0.0.0). */
  publicOrigin?: string;
};

export type ListeningPayPalSimulator = PayPalSimulator & {
  /** Where the listener is bound, e.g. http://127.0.0.1:41234 */
  origin: string;
  /** Where the API lives: public origin plus mount path; give this to the gateway as baseUrl. */
  baseUrl: string;
  /** Stops listening, then flushes the state. */
  close(): Promise<void>;
};

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::']);

/** Runs a simulator on its own HTTP listener, mounted under `mountPath`, reached over real sockets. */
export async function listenPayPalSimulator(opts: ListenOptions): Promise<ListeningPayPalSimulator> {
  const { hostname = '127.0.0.1', port = 0, mountPath = DEFAULT_MOUNT_PATH, publicOrigin, ...simOptions } = opts;
  // The simulator must know its public URL before it exists, and the URL needs the port: bind first.
  let handle: (request: Request) => Response | Promise<Response> = () => new Response(null, { status: 503 });
  const server = serve({ fetch: (request) => handle(request), port, hostname }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const bound = (server.address() as AddressInfo).port;
  const origin = `http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${bound}`;
  // a browser cannot open 0.0.0.0: links then name localhost
  const reachable = WILDCARD_HOSTS.has(hostname) ? `http://localhost:${bound}` : origin;
  const baseUrl = `${(publicOrigin ?? reachable).replace(/\/+$/, '')}${mountPath}`;
  const simulator = createPayPalSimulator({ ...simOptions, publicUrl: baseUrl });
  if (mountPath) {
    const host = new Hono();
    host.route(mountPath, simulator.app);
    handle = host.fetch;
  } else {
    handle = simulator.app.fetch;
  }
  return {
    ...simulator,
    origin,
    baseUrl,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await simulator.close();
    },
  };
}
