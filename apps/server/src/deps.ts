import path from 'node:path';
import type { MikroORM } from '@boxoffice/db';
import type { PayPalSimulator } from '@boxoffice/paypal-simulator';
import { createPayPalSimulator } from '@boxoffice/paypal-simulator';
import type { Config } from './config.ts';
import { housekeepingJobs } from './jobs/housekeeping.ts';
import type { JobHandlers } from './jobs/tasks.ts';
import type { Clock } from './lib/clock.ts';
import { Metrics } from './lib/metrics.ts';
import { RateLimiter } from './lib/rate-limit.ts';
import type { DevSecrets } from './lib/secrets.ts';
import type { Logger } from './logger.ts';
import { TokenService } from './modules/auth/tokens.ts';
import { bookingJobs } from './modules/bookings/bookings.jobs.ts';
import type { BookingsConfig } from './modules/bookings/bookings.service.ts';
import type { EventRefundPort } from './modules/events/events.service.ts';
import type { Geocoder } from './modules/events/geocoder.ts';
import { geocoderFromConfig } from './modules/events/geocoder.ts';
import { createHoldQueue } from './modules/inventory/hold-queue.ts';
import { enqueueMail, enqueueMails, mailJobs } from './modules/mail/mail.ts';
import { createMailTransport } from './modules/mail/transport.ts';
import { onsaleJobs } from './modules/onsale/onsale.jobs.ts';
import { secureRandom, type WaitingRoomConfig } from './modules/onsale/waiting-room.service.ts';
import { createTicketSigner, resolveTicketSigningKey, type TicketSigner } from './modules/tickets/ticket-code.ts';
import { renderTicketsPdf } from './modules/tickets/tickets-pdf.ts';
import type { WaitlistConfig } from './modules/waitlist/waitlist.service.ts';
import type { CheckoutDeps } from './payments/checkout.service.ts';
import { paymentStartUrl, startCheckout } from './payments/checkout.service.ts';
import { paymentJobs } from './payments/payments.jobs.ts';
import { createPayPalGateway } from './payments/paypal/gateway.ts';
import { resolvePayPalSettings } from './payments/paypal/paypal-settings.ts';
import { createReferenceSigner } from './payments/paypal/reference.ts';
import { reconcilePayments } from './payments/reconcile.ts';
import {
  eventRefundProgress,
  paymentRecords,
  type RefundsDeps,
  refundBooking,
  refundViews,
  scheduleEventRefunds,
} from './payments/refunds.service.ts';
import { createWebhookVerifier, type WebhookVerifier } from './payments/webhooks/verifier.ts';
import { resolveWebhookSettings } from './payments/webhooks/webhook-settings.ts';
/**
 * Every long-lived collaborator, built once per process by `buildDeps` below and handed to the
 * transports (trpc/, the Hono routes), which import this type and nothing that builds it.
 * Modules receive only the parts they need.
 */
export type AppDeps = {
  config: Config;
  orm: MikroORM;
  log: Logger;
  clock: Clock;
  tokens: TokenService;
  rateLimiter: RateLimiter;
  metrics: Metrics;
  /** Null when no GOOGLE_MAPS_API_KEY is configured: coordinates come from the input or stay empty. */
  geocoder: Geocoder | null;
  checkout: CheckoutDeps;
  /** Refunds (admin, event cancellation, PayPal's own) on top of checkout. */
  refunds: RefundsDeps;
  /** Checks PayPal webhook deliveries; null without a webhook id (real PayPal needs PAYPAL_WEBHOOK_ID). */
  paypalWebhooks: WebhookVerifier | null;
  /** What cancelling an event asks of payments. */
  eventRefunds: EventRefundPort;
  /** The bookings service's collaborators (payments arrive as a port). */
  bookings: BookingsConfig;
  /** The offline PayPal, served under /paypal-sim when no PayPal credentials are configured. */
  paypalSimulator: PayPalSimulator | null;
  /** Signs ticket codes (Ed25519); its public key verifies them, offline too. */
  tickets: { signer: TicketSigner };
  /** Where mail goes, in words for the start banner (no credentials). */
  mail: { describe: string };
  /** Waiting rooms: admission timing and the draw's randomness. */
  waitingRoom: WaitingRoomConfig;
  /** Waitlists: how long an offer holds its tickets, and where its buyer pays. */
  waitlist: WaitlistConfig;
};

export type DepsInput = {
  /** With the public URL known (the port is chosen when the server listens). */
  config: Config;
  orm: MikroORM;
  log: Logger;
  clock: Clock;
  /** Where this process reaches its own HTTP server (the in-process PayPal simulator is there). */
  selfUrl: string;
  /** Generated development secrets, for whatever the configuration leaves unset. */
  devSecrets: DevSecrets | undefined;
};

/**
 * The composition root: builds every collaborator once and wires them together, payments into
 * bookings as a port and each module's job handlers into one task list. Lifecycle (database,
 * migrations, listening, the worker) stays in server.ts.
 */
export async function buildDeps({ config, orm, log, clock, selfUrl, devSecrets: dev }: DepsInput): Promise<{
  deps: AppDeps;
  jobHandlers: JobHandlers;
  close: () => Promise<void>;
}> {
  const { publicUrl } = config;
  const tokens = new TokenService({
    jwtSecret: config.JWT_SECRET_KEY ?? dev?.jwtSecret ?? '',
    refreshKey: config.JWT_REFRESH_TOKEN_KEY ?? dev?.refreshKey ?? '',
    algorithm: config.ALGORITHM,
    accessTtlMinutes: config.ACCESS_TOKEN_EXPIRE_MINUTES,
    refreshTtlDays: config.REFRESH_TOKEN_EXPIRE_DAYS,
    refreshGraceSeconds: config.REFRESH_TOKEN_GRACE_SECONDS,
    clock,
  });

  const paypal = resolvePayPalSettings(config, selfUrl);
  if (paypal.warning) log.error({ paypalMode: paypal.mode }, paypal.warning);
  // offline mode: the PayPal simulator in this process (the only place the server imports it)
  const paypalSimulator = paypal.simulator ? createPayPalSimulator({ ...paypal.simulator, clock, log }) : null;
  const metrics = new Metrics({ log });
  // MikroORM's own pg pool: the same connections every query, the rate limiter's included, uses
  const pool = await orm.em.getConnection().getNativeClient();
  const rateLimiter = RateLimiter.postgres(pool);
  const checkout: CheckoutDeps = {
    gateway: createPayPalGateway({ ...paypal, log, observeCall: metrics.observePayPalCall }),
    signer: createReferenceSigner(tokens.derivedKey('paypal-return-ref')),
    clock,
    log,
    publicUrl: () => publicUrl,
    settling: new Map(),
    onAlert: metrics.paymentAlert,
    countPaymentStart: (userId) =>
      rateLimiter.consume(`payments:start:user:${userId}`, config.RATE_LIMIT_PAYMENTS_PER_USER_PER_HOUR, 3_600_000),
  };

  const refunds: RefundsDeps = { checkout, refunding: new Map() };
  const webhooks = resolveWebhookSettings(config, paypalSimulator);
  // offline mode: the simulator delivers to this process, signed for this webhook id
  if (paypalSimulator && webhooks && config.PAYPAL_SIMULATOR_WEBHOOKS)
    paypalSimulator.addWebhook({ url: `${selfUrl.replace(/\/+$/, '')}/webhooks/paypal`, id: webhooks.webhookId });
  const paypalWebhooks = webhooks ? createWebhookVerifier({ ...webhooks, clock, log }) : null;

  const count = async (sql: string) => Number((await orm.em.fork().execute<{ n: number }[]>(sql))[0]?.n ?? 0);
  metrics.gauge('boxoffice_holds_open', 'Bookings currently HELD.', () =>
    count("SELECT count(*)::int AS n FROM bookings WHERE status = 'HELD'"),
  );
  metrics.gauge('boxoffice_jobs_pending', 'Jobs not yet done (hold expiry and others).', () =>
    count('SELECT count(*)::int AS n FROM graphile_worker.jobs'),
  );
  metrics.labeledGauge('boxoffice_db_pool_connections', 'Database pool connections by state.', 'state', async () => ({
    used: pool.totalCount - pool.idleCount,
    free: pool.idleCount,
    pending: pool.waitingCount,
  }));

  const ticketKey = await resolveTicketSigningKey(config);
  if (ticketKey.source === 'file')
    log.warn({ file: ticketKey.file }, 'TICKET_SIGNING_KEY not set: using a generated development key');
  const ticketSigner = createTicketSigner(ticketKey.key);
  // development without SMTP_URL: mails become .eml files in the data folder; tests without one send nothing
  const mailTransport = createMailTransport({
    smtpUrl: config.SMTP_URL,
    disabled: config.MAIL_DISABLED,
    fileDir: config.NODE_ENV === 'development' ? path.join(path.resolve(config.DATA_DIR), 'mail') : undefined,
    timeoutMs: config.SMTP_TIMEOUT_MS,
  });

  const deps: AppDeps = {
    config,
    orm,
    log,
    clock,
    tokens,
    rateLimiter,
    metrics,
    geocoder: geocoderFromConfig(config),
    checkout,
    refunds,
    paypalWebhooks,
    eventRefunds: { scheduleEventRefunds, refundProgress: eventRefundProgress },
    bookings: {
      clock,
      holdTtlMinutes: config.HOLD_TTL_MINUTES,
      payments: {
        paymentLink: (booking) => paymentStartUrl(checkout, booking.id),
        startPayment: (em, booking) => startCheckout(checkout, em, booking),
      },
      paymentsAdmin: {
        refund: (em, bookingId, request) => refundBooking(refunds, em, bookingId, request),
        reconcile: (em, input) => reconcilePayments(refunds, em, input),
        paymentRecords,
        refunds: refundViews,
      },
      onHoldOutcome: (outcome) => metrics.holdOutcome(outcome),
      holdQueue: config.HOLD_BATCHING ? createHoldQueue({ fork: () => orm.em.fork() }) : null,
    },
    paypalSimulator,
    tickets: { signer: ticketSigner },
    mail: { describe: mailTransport.describe },
    waitingRoom: {
      clock,
      admissionTtlSeconds: config.ADMISSION_TTL_SECONDS,
      tickSeconds: config.ADMISSION_TICK_SECONDS,
      batchMax: config.ADMISSION_BATCH_MAX,
      random: secureRandom,
    },
    waitlist: {
      clock,
      offerMinutes: config.WAITLIST_OFFER_MINUTES,
      paymentLink: (bookingId) => paymentStartUrl(checkout, bookingId),
      onOffer: async (em, bookingId, now) => {
        await enqueueMail(em, { kind: 'waitlist-offer', bookingId }, now);
      },
    },
  };

  // each module brings the handlers of its own jobs; the type demands one for every task
  const jobHandlers: JobHandlers = {
    ...bookingJobs({ orm, clock }),
    ...paymentJobs({ orm, checkout, refunds }),
    ...housekeepingJobs({ orm, clock }),
    // the handlers read the config objects on each run, so what a test sets there (a seeded draw) applies
    ...onsaleJobs({
      orm,
      waitingRoom: deps.waitingRoom,
      waitlist: deps.waitlist,
      onSoldOut: async (em, eventId, userIds, now) => {
        await enqueueMails(
          em,
          userIds.map((userId) => ({ kind: 'waiting-room-sold-out', eventId, userId })),
          now,
        );
      },
    }),
    ...mailJobs({
      orm,
      clock,
      log,
      transport: mailTransport,
      from: config.MAIL_FROM,
      context: {
        publicUrl,
        ticketsPdf: (em, bookingId) => renderTicketsPdf(em, ticketSigner, bookingId),
        paymentLink: (bookingId) => paymentStartUrl(checkout, bookingId),
      },
    }),
  };
  return {
    deps,
    jobHandlers,
    close: async () => {
      mailTransport.close();
      await paypalSimulator?.close();
    },
  };
}
