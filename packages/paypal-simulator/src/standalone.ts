import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { type ListeningPayPalSimulator, listenPayPalSimulator } from './index.ts';
import { generateCredentials, type MerchantCredentials } from './oauth.ts';

/**
 * The simulator as its own process, shared by several servers: each server sets
 * PAYPAL_API_BASE_URL to its API base URL and PAYPAL_CLIENT_ID / PAYPAL_SECRET_KEY to its
 * merchant credentials. Every setting comes from the environment, read here only.
 */

const optional = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));
const flag = (fallback: boolean) =>
  optional.pipe(
    z
      .enum(['true', 'false'], { error: 'expected true or false' })
      .optional()
      .transform((value) => (value === undefined ? fallback : value === 'true')),
  );
const port = optional.pipe(
  z
    .string()
    .regex(/^\d{1,5}$/, 'expected a port number')
    .transform(Number)
    .refine((value) => value <= 65535, 'expected a port number')
    .optional(),
);

const Env = z
  .object({
    NODE_ENV: optional,
    PAYPAL_SIM_PORT: port,
    PORT: port,
    PAYPAL_SIM_LISTEN_HOST: optional.transform((value) => value ?? '127.0.0.1'),
    PAYPAL_SIM_PUBLIC_URL: optional.pipe(
      z.url({ error: 'expected the public origin, e.g. http://localhost:4010' }).optional(),
    ),
    PAYPAL_SIM_MOUNT_PATH: optional.pipe(
      z
        .string()
        .regex(/^(\/[\w.~-]+)+$/, 'expected a path such as /paypal-sim, or nothing for the root')
        .optional(),
    ),
    PAYPAL_SIM_CLIENT_ID: optional,
    PAYPAL_SIM_CLIENT_SECRET: optional,
    PAYPAL_SIM_DATA_DIR: optional.transform((value) => value ?? '.data'),
    PAYPAL_SIM_PERSIST: flag(true),
    PAYPAL_SIM_ALLOWED_REDIRECTS: optional.transform((value) =>
      (value ?? 'http://localhost:3000/payments/paypal/return,http://localhost:3000/payments/paypal/cancel')
        .split(',')
        .map((prefix) => prefix.trim())
        .filter(Boolean),
    ),
    PAYPAL_SIM_FAULTS: flag(false),
    // listeners for webhooks: <webhook id>=<url>, comma-separated (each server's PAYPAL_WEBHOOK_ID and /webhooks/paypal)
    PAYPAL_SIM_WEBHOOKS: optional.transform((value) =>
      (value ?? '')
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean)
        .map((entry) => {
          const at = entry.indexOf('=');
          return { id: entry.slice(0, at), url: entry.slice(at + 1) };
        }),
    ),
    PAYPAL_SIM_MERCHANT_NAME: optional.transform((value) => value ?? 'Boxoffice'),
  })
  .superRefine((env, ctx) => {
    if (env.PAYPAL_SIM_FAULTS && env.NODE_ENV === 'production')
      ctx.addIssue({ code: 'custom', path: ['PAYPAL_SIM_FAULTS'], message: 'refused when NODE_ENV=production' });
    if (env.PAYPAL_SIM_CLIENT_SECRET && !env.PAYPAL_SIM_CLIENT_ID)
      ctx.addIssue({
        code: 'custom',
        path: ['PAYPAL_SIM_CLIENT_ID'],
        message: 'required when PAYPAL_SIM_CLIENT_SECRET is set',
      });
    for (const hook of env.PAYPAL_SIM_WEBHOOKS) {
      if (
        !/^[A-Za-z0-9-]{1,50}$/.test(hook.id) ||
        !URL.canParse(hook.url) ||
        !/^https?:$/.test(new URL(hook.url).protocol)
      )
        ctx.addIssue({
          code: 'custom',
          path: ['PAYPAL_SIM_WEBHOOKS'],
          message: `expected <webhook id>=<http(s) URL>, got ${hook.id}=${hook.url}`,
        });
    }
    for (const prefix of env.PAYPAL_SIM_ALLOWED_REDIRECTS) {
      if (!URL.canParse(prefix) || !/^https?:$/.test(new URL(prefix).protocol))
        ctx.addIssue({
          code: 'custom',
          path: ['PAYPAL_SIM_ALLOWED_REDIRECTS'],
          message: `not an http(s) URL: ${prefix}`,
        });
    }
  });

export type StandaloneConfig = {
  port: number;
  hostname: string;
  publicOrigin: string | undefined;
  mountPath: string;
  clientId: string | undefined;
  clientSecret: string | undefined;
  credentialsFile: string;
  stateFile: string | undefined;
  allowedRedirectPrefixes: string[];
  webhooks: { id: string; url: string }[];
  faults: boolean;
  merchantName: string;
};

export class StandaloneConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'StandaloneConfigError';
    this.problems = problems;
  }
}

export function readStandaloneConfig(source: Record<string, string | undefined>): StandaloneConfig {
  const parsed = Env.safeParse(source);
  if (!parsed.success) {
    throw new StandaloneConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? 'environment');
        // never echo a secret back
        const given = source[name];
        const shown = given === undefined || name.includes('SECRET') ? '' : ` (got "${given}")`;
        return `${name}: ${issue.message}${shown}`;
      }),
    );
  }
  const env = parsed.data;
  const dataDir = path.resolve(env.PAYPAL_SIM_DATA_DIR);
  return {
    port: env.PAYPAL_SIM_PORT ?? env.PORT ?? 4010,
    hostname: env.PAYPAL_SIM_LISTEN_HOST,
    publicOrigin: env.PAYPAL_SIM_PUBLIC_URL,
    mountPath: env.PAYPAL_SIM_MOUNT_PATH ?? '',
    clientId: env.PAYPAL_SIM_CLIENT_ID,
    clientSecret: env.PAYPAL_SIM_CLIENT_SECRET,
    credentialsFile: path.join(dataDir, 'paypal-simulator-credentials.json'),
    stateFile: env.PAYPAL_SIM_PERSIST ? path.join(dataDir, 'paypal-simulator-state.json') : undefined,
    allowedRedirectPrefixes: env.PAYPAL_SIM_ALLOWED_REDIRECTS,
    webhooks: env.PAYPAL_SIM_WEBHOOKS,
    faults: env.PAYPAL_SIM_FAULTS,
    merchantName: env.PAYPAL_SIM_MERCHANT_NAME,
  };
}

const CredentialsFile = z.object({ clientId: z.string().min(1), clientSecret: z.string().min(32) });

/**
 * From the environment when both are set; otherwise from the credentials file, made on first
 * start (readable by this user only) and reused after, so configured servers keep working.
 */
function resolveCredentials(config: StandaloneConfig): MerchantCredentials & { source: 'env' | 'file' } {
  if (config.clientId && config.clientSecret)
    return { clientId: config.clientId, clientSecret: config.clientSecret, source: 'env' };
  try {
    const saved = CredentialsFile.safeParse(JSON.parse(readFileSync(config.credentialsFile, 'utf8')));
    if (saved.success && (!config.clientId || saved.data.clientId === config.clientId))
      return { ...saved.data, source: 'file' };
  } catch {
    // no file yet (or an unreadable one): a new pair replaces it
  }
  const fresh = { ...generateCredentials(), ...(config.clientId ? { clientId: config.clientId } : {}) };
  mkdirSync(path.dirname(config.credentialsFile), { recursive: true });
  writeFileSync(config.credentialsFile, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600 });
  return { ...fresh, source: 'file' };
}

export type StandaloneSimulator = ListeningPayPalSimulator & { credentialsSource: 'env' | 'file' };

/** Starts the listener and prints where it is, the client id and where the secret is; never the secret. */
export async function startStandalone(
  config: StandaloneConfig,
  print: (line: string) => void = console.log,
): Promise<StandaloneSimulator> {
  const { source, ...credentials } = resolveCredentials(config);
  const simulator = await listenPayPalSimulator({
    hostname: config.hostname,
    port: config.port,
    mountPath: config.mountPath,
    ...credentials,
    allowedRedirectPrefixes: config.allowedRedirectPrefixes,
    webhooks: config.webhooks,
    faults: config.faults,
    merchantName: config.merchantName,
    log: { warn: (data, message) => console.warn(message, data) },
    ...(config.stateFile ? { stateFile: config.stateFile } : {}),
    ...(config.publicOrigin ? { publicOrigin: config.publicOrigin } : {}),
  });
  const secretSource =
    source === 'env' ? 'from PAYPAL_SIM_CLIENT_SECRET' : `written to ${config.credentialsFile} ("clientSecret")`;
  for (const line of [
    '',
    `PayPal simulator listening on ${simulator.origin}`,
    `  API base URL:    ${simulator.baseUrl}   (PAYPAL_API_BASE_URL of each server)`,
    `  Client id:       ${credentials.clientId}   (PAYPAL_CLIENT_ID)`,
    `  Client secret:   ${secretSource}   (PAYPAL_SECRET_KEY)`,
    `  Redirects only to URLs under: ${config.allowedRedirectPrefixes.join(', ') || '(none)'}`,
    `  Webhooks to:     ${config.webhooks.map((hook) => `${hook.url} (webhook id ${hook.id})`).join(', ') || '(none)'}`,
    `  State:           ${config.stateFile ?? 'in memory only'}`,
    `  Fault controls:  ${config.faults ? `on, POST ${simulator.baseUrl}/__sim/*` : 'off'}`,
    '  No real money moves. Stop with Ctrl+C.',
    '',
  ])
    print(line);
  return { ...simulator, credentialsSource: source };
}
