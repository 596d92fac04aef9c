import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { type Config, ConfigError } from '../../config.ts';
import type { PayPalGatewayOptions } from './gateway.ts';

/** Where offline mode mounts the PayPal simulator on the server. */
export const SIMULATOR_MOUNT_PATH = '/paypal-sim';

/** How server.ts builds the in-process simulator in offline mode. */
export type SimulatorSettings = {
  /** Where browsers and this server's gateway reach it. */
  publicUrl: string;
  clientId: string;
  clientSecret: string;
  /** Only this server's own return and cancel pages. */
  allowedRedirectPrefixes: string[];
  faults: boolean;
  /** Absent: memory only. */
  stateFile?: string;
};

export type PayPalSettings = PayPalGatewayOptions & {
  mode: 'paypal' | 'simulator';
  /** Set in simulator mode. */
  simulator?: SimulatorSettings;
  /** Set when the simulator would run where real money is expected; the caller logs it at error level. */
  warning?: string;
};

const DEFAULT_MAX_RETRIES = 2;

/**
 * Gateway options from configuration: real PayPal when PAYPAL_CLIENT_ID and PAYPAL_SECRET_KEY are
 * set (PAYPAL_API_BASE_URL optionally overriding the host, e.g. a standalone simulator shared by
 * several instances), else the built-in simulator (offline mode).
 * `serverUrl` is where this process reaches its own HTTP server (the simulator is mounted there
 * under /paypal-sim); it defaults to the public URL.
 *
 * Offline mode's merchant credentials are random per process, so only this server can call the
 * simulator's merchant API (create, capture, refund): a buyer who reaches /paypal-sim cannot.
 */
export function resolvePayPalSettings(config: Config, serverUrl: string = config.publicUrl): PayPalSettings {
  const { PAYPAL_CLIENT_ID: clientId, PAYPAL_SECRET_KEY: clientSecret } = config;
  if (Boolean(clientId) !== Boolean(clientSecret)) {
    throw new ConfigError([
      clientId
        ? 'PAYPAL_SECRET_KEY: required when PAYPAL_CLIENT_ID is set'
        : 'PAYPAL_CLIENT_ID: required when PAYPAL_SECRET_KEY is set',
    ]);
  }
  const common = { timeoutMs: config.PAYPAL_TIMEOUT_MS, maxRetries: DEFAULT_MAX_RETRIES };
  if (clientId && clientSecret) {
    return {
      mode: 'paypal',
      clientId,
      clientSecret,
      environment: config.PAYPAL_ENV,
      ...(config.PAYPAL_API_BASE_URL ? { baseUrl: config.PAYPAL_API_BASE_URL } : {}),
      ...common,
    };
  }
  const publicUrl = config.publicUrl.replace(/\/+$/, '');
  const simulatorUrl = `${publicUrl}${SIMULATOR_MOUNT_PATH}`;
  const credentials = {
    clientId: `offline-${randomBytes(9).toString('base64url')}`,
    clientSecret: randomBytes(32).toString('base64url'),
  };
  return {
    mode: 'simulator',
    ...credentials,
    environment: 'sandbox',
    baseUrl: `${serverUrl.replace(/\/+$/, '')}${SIMULATOR_MOUNT_PATH}`,
    ...common,
    simulator: {
      publicUrl: simulatorUrl,
      ...credentials,
      allowedRedirectPrefixes: [`${publicUrl}/payments/paypal/return`, `${publicUrl}/payments/paypal/cancel`],
      faults: config.PAYPAL_SIMULATOR_FAULTS,
      ...(config.PAYPAL_SIMULATOR_PERSIST ? { stateFile: path.join(config.DATA_DIR, 'paypal-simulator.json') } : {}),
    },
    ...(config.NODE_ENV === 'production'
      ? {
          warning:
            `PAYPAL_SIMULATOR=true in production: payments go to the built-in PayPal simulator and no money moves. ` +
            `Its approval page (${simulatorUrl}/checkoutnow) is public: anyone who books can approve their own ` +
            'payment and get CONFIRMED tickets without paying. Set PAYPAL_CLIENT_ID and PAYPAL_SECRET_KEY to take real payments.',
        }
      : {}),
  };
}
