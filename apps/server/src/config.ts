import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';

function isEd25519PrivateKey(value: string): boolean {
  try {
    return (
      createPrivateKey({ key: Buffer.from(value, 'base64'), format: 'der', type: 'pkcs8' }).asymmetricKeyType ===
      'ed25519'
    );
  } catch {
    return false;
  }
}

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const int = (fallback: number, min: number, max: number) =>
  z.coerce
    .number({ error: 'expected a whole number' })
    .int('expected a whole number')
    .min(min)
    .max(max)
    .default(fallback);

/** Every environment variable the server reads, validated once at start. */
export const EnvSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    PORT: int(3000, 0, 65535),
    LISTEN_HOST: z.string().default('0.0.0.0'),
    HOST: z.url({ error: 'expected the public base URL, e.g. http://localhost:3000' }).optional(),
    DATA_DIR: z.string().default('.data'),
    DATABASE_URL: optionalString.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\/.+/, 'expected postgres://user:password@host:port/database')
        .optional(),
    ),
    // where migrations and session-bound work (the job queue's LISTEN/NOTIFY) connect when
    // DATABASE_URL goes through a transaction pooler such as pgbouncer; DATABASE_URL when unset
    DATABASE_DIRECT_URL: optionalString.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\/.+/, 'expected postgres://user:password@host:port/database')
        .optional(),
    ),
    DATABASE_POOL_MAX: int(20, 1, 500),
    // a caller waits this long for a pool connection, then gets 503 DATABASE_UNAVAILABLE
    DATABASE_ACQUIRE_TIMEOUT_MS: int(5000, 100, 120_000),
    // PostgreSQL's statement_timeout / idle_in_transaction_session_timeout (0: off); they bound how
    // long a stuck statement or transaction can hold a row lock, such as a hot event's
    DATABASE_STATEMENT_TIMEOUT_MS: int(30_000, 0, 3_600_000),
    DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: int(15_000, 0, 3_600_000),
    ADMIN_EMAIL: optionalString.pipe(z.email({ error: 'expected an email address' }).optional()),
    ADMIN_USERNAME: optionalString,
    ADMIN_PASSWORD: optionalString,
    JWT_SECRET_KEY: optionalString,
    ALGORITHM: z.enum(['HS256', 'HS384', 'HS512']).default('HS256'),
    JWT_REFRESH_TOKEN_KEY: optionalString,
    ACCESS_TOKEN_EXPIRE_MINUTES: int(15, 1, 24 * 60),
    REFRESH_TOKEN_EXPIRE_DAYS: int(30, 1, 365),
    // a refresh token rotated less than this ago gets the same successor again instead of
    // counting as a replay (which revokes the family): parallel refreshes, a retried lost answer
    REFRESH_TOKEN_GRACE_SECONDS: int(10, 0, 300),
    // fractions (down to 0.05, 3 s) only with NODE_ENV=test: the stress run lets holds lapse in seconds
    HOLD_TTL_MINUTES: z.coerce
      .number({ error: 'expected a number of minutes' })
      .min(0.05)
      .max(24 * 60)
      .default(15),
    // a job worker silent this long is taken for dead and its jobs run elsewhere (jobs/leases.ts)
    JOB_LEASE_SECONDS: int(120, 5, 3600),
    // test only (refused otherwise): the ledger reads the counts without the event's row lock, so
    // the stress run can show that it catches the oversell that follows (pnpm test:stress --broken-ledger)
    LEDGER_UNSAFE_SKIP_ROW_LOCK: z
      .enum(['true', 'false'])
      .default('false')
      .transform((value) => value === 'true'),
    // how long this server answers a public catalogue read from memory (0: never); see http-cache.ts
    PUBLIC_CACHE_SECONDS: int(1, 0, 60),
    // waiting rooms (modules/onsale): how long an admission lasts, how often the admission job runs,
    // and the most buyers one run admits
    ADMISSION_TTL_SECONDS: int(300, 10, 3600),
    ADMISSION_TICK_SECONDS: int(2, 1, 60),
    ADMISSION_BATCH_MAX: int(500, 1, 100_000),
    // how often an open status stream (SSE) looks for a change, per server and event
    QUEUE_STREAM_INTERVAL_MS: int(1000, 100, 60_000),
    // how long a waitlist offer holds its tickets for the buyer (modules/waitlist)
    WAITLIST_OFFER_MINUTES: int(30, 1, 24 * 60),
    // holds for one event that arrive while a transaction for it is in flight share the next one
    HOLD_BATCHING: z
      .enum(['true', 'false'])
      .default('true')
      .transform((value) => value === 'true'),
    CORS_ORIGINS: z
      .string()
      .default('')
      .transform((value) =>
        value
          .split(',')
          .map((origin) => origin.trim())
          .filter(Boolean),
      ),
    BODY_LIMIT_BYTES: int(64 * 1024, 1024, 10 * 1024 * 1024),
    // how long a client may take to send the headers / the whole request (node's http server)
    HTTP_HEADERS_TIMEOUT_MS: int(10_000, 1000, 600_000),
    HTTP_REQUEST_TIMEOUT_MS: int(30_000, 1000, 3_600_000),
    RATE_LIMIT_AUTH_PER_MINUTE: int(20, 0, 1_000_000),
    RATE_LIMIT_LOGIN_FAILURES_PER_IP_PER_DAY: int(100, 0, 1_000_000),
    RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_IP: int(10, 0, 1_000_000),
    RATE_LIMIT_PAYMENT_PER_MINUTE: int(60, 0, 1_000_000),
    RATE_LIMIT_PAYMENTS_PER_USER_PER_HOUR: int(30, 0, 1_000_000),
    TRUST_PROXY: z
      .enum(['true', 'false'])
      .default('false')
      .transform((value) => value === 'true'),
    METRICS_TOKEN: optionalString,
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    GOOGLE_MAPS_API_KEY: optionalString,
    GOOGLE_MAPS_BASE_URL: optionalString.pipe(z.url().optional()),
    GEOCODER_TIMEOUT_MS: int(3000, 100, 60_000),
    PAYPAL_CLIENT_ID: optionalString,
    PAYPAL_SECRET_KEY: optionalString,
    PAYPAL_ENV: z.enum(['sandbox', 'live']).default('sandbox'),
    PAYPAL_API_BASE_URL: optionalString.pipe(z.url().optional()),
    PAYPAL_TIMEOUT_MS: int(10_000, 100, 120_000),
    // the id of the webhook (developer.paypal.com → the app → Webhooks) that sends to /webhooks/paypal;
    // signatures are made for it, so it is required to accept webhooks with real credentials
    PAYPAL_WEBHOOK_ID: optionalString.pipe(
      z
        .string()
        .regex(/^[A-Za-z0-9-]{1,50}$/, 'expected the webhook id PayPal shows, e.g. 8PT597110X687430LKGECATA')
        .optional(),
    ),
    PAYPAL_SIMULATOR: z.enum(['true', 'false']).optional(),
    // fault injection in the built-in simulator (/paypal-sim/__sim/*): tests and local experiments only
    PAYPAL_SIMULATOR_FAULTS: z
      .enum(['true', 'false'])
      .default('false')
      .transform((value) => value === 'true'),
    // the built-in simulator sends its webhooks (approvals, captures, refunds) to this server's /webhooks/paypal
    PAYPAL_SIMULATOR_WEBHOOKS: z
      .enum(['true', 'false'])
      .default('true')
      .transform((value) => value === 'true'),
    // the built-in simulator keeps its orders in DATA_DIR/paypal-simulator.json: payment links survive a restart
    PAYPAL_SIMULATOR_PERSIST: z
      .enum(['true', 'false'])
      .default('true')
      .transform((value) => value === 'true'),
    // mail (modules/mail) goes to this SMTP server: smtp://[user:password@]host:port, or smtps:// for TLS
    SMTP_URL: optionalString.pipe(
      z
        .string()
        .regex(/^smtps?:\/\/[^/]+/, 'expected smtp://[user:password@]host:port or smtps://...')
        .optional(),
    ),
    SMTP_TIMEOUT_MS: int(10_000, 500, 120_000),
    MAIL_FROM: z.string().default('Boxoffice <no-reply@boxoffice.local>'),
    // true: no mail is sent at all (what production needs to run without SMTP_URL)
    MAIL_DISABLED: z
      .enum(['true', 'false'])
      .default('false')
      .transform((value) => value === 'true'),
    // the Ed25519 private key that signs ticket codes (PKCS8 DER, base64); generated into DATA_DIR
    // in development, required in production
    TICKET_SIGNING_KEY: optionalString.pipe(
      z.string().refine(isEd25519PrivateKey, 'expected an Ed25519 private key, PKCS8 DER in base64').optional(),
    ),
  })
  .superRefine((env, ctx) => {
    const adminSet = [env.ADMIN_EMAIL, env.ADMIN_USERNAME, env.ADMIN_PASSWORD].filter(Boolean).length;
    if (adminSet !== 0 && adminSet !== 3) {
      for (const name of ['ADMIN_EMAIL', 'ADMIN_USERNAME', 'ADMIN_PASSWORD'] as const) {
        if (!env[name])
          ctx.addIssue({ code: 'custom', path: [name], message: 'set all three admin variables or none' });
      }
    }
    if (env.NODE_ENV !== 'test') {
      if (!Number.isInteger(env.HOLD_TTL_MINUTES) || env.HOLD_TTL_MINUTES < 1)
        ctx.addIssue({
          code: 'custom',
          path: ['HOLD_TTL_MINUTES'],
          message: 'expected a whole number of minutes, at least 1 (fractions only with NODE_ENV=test)',
        });
      if (env.LEDGER_UNSAFE_SKIP_ROW_LOCK)
        ctx.addIssue({
          code: 'custom',
          path: ['LEDGER_UNSAFE_SKIP_ROW_LOCK'],
          message: 'refused unless NODE_ENV=test: it lets two buyers take the same tickets',
        });
    }
    if (env.NODE_ENV !== 'production') return;
    if (!env.JWT_SECRET_KEY || env.JWT_SECRET_KEY.length < 32)
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_SECRET_KEY'],
        message: 'required in production, at least 32 characters',
      });
    if (!env.JWT_REFRESH_TOKEN_KEY || env.JWT_REFRESH_TOKEN_KEY.length < 32)
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_REFRESH_TOKEN_KEY'],
        message: 'required in production, at least 32 characters',
      });
    if (!env.ADMIN_EMAIL)
      ctx.addIssue({
        code: 'custom',
        path: ['ADMIN_EMAIL'],
        message: 'required in production (with ADMIN_USERNAME, ADMIN_PASSWORD)',
      });
    if (env.ADMIN_PASSWORD && env.ADMIN_PASSWORD.length < 12)
      ctx.addIssue({ code: 'custom', path: ['ADMIN_PASSWORD'], message: 'at least 12 characters in production' });
    if (!env.HOST)
      ctx.addIssue({ code: 'custom', path: ['HOST'], message: 'required in production (public base URL)' });
    if (!env.PAYPAL_CLIENT_ID && env.PAYPAL_SIMULATOR !== 'true')
      ctx.addIssue({
        code: 'custom',
        path: ['PAYPAL_CLIENT_ID'],
        message: 'required in production (or PAYPAL_SIMULATOR=true to take no real money on purpose)',
      });
    if (env.PAYPAL_CLIENT_ID && !env.PAYPAL_WEBHOOK_ID)
      ctx.addIssue({
        code: 'custom',
        path: ['PAYPAL_WEBHOOK_ID'],
        message: 'required in production with PayPal credentials (the webhook that sends to /webhooks/paypal)',
      });
    if (!env.SMTP_URL && !env.MAIL_DISABLED)
      ctx.addIssue({
        code: 'custom',
        path: ['SMTP_URL'],
        message: 'required in production (or MAIL_DISABLED=true to send no mail on purpose)',
      });
    if (!env.TICKET_SIGNING_KEY)
      ctx.addIssue({
        code: 'custom',
        path: ['TICKET_SIGNING_KEY'],
        message: 'required in production: an Ed25519 private key, PKCS8 DER in base64',
      });
    if (env.PAYPAL_SIMULATOR_FAULTS)
      ctx.addIssue({
        code: 'custom',
        path: ['PAYPAL_SIMULATOR_FAULTS'],
        message: 'refused in production: it lets anyone make the PayPal simulator fail or misreport payments',
      });
  });

export type Env = z.infer<typeof EnvSchema>;

export type Config = Env & {
  /** Public base URL used in links we hand out (PayPal return/cancel URLs). */
  publicUrl: string;
};

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.problems = problems;
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError naming each bad variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const got = source[name];
      const shown = got === undefined || /SECRET|PASSWORD|KEY|SMTP_URL/.test(name) ? '' : ` (got "${got}")`;
      return `${name}: ${issue.message}${shown}`;
    });
    throw new ConfigError(problems);
  }
  const env = parsed.data;
  const publicUrl = (env.HOST ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
  return { ...env, publicUrl };
}
