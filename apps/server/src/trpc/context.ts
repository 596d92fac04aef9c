import type { EntityManager, MikroORM } from '@boxoffice/db';
import type { Config } from '../config.ts';
import type { Clock } from '../lib/clock.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { RateLimiter } from '../lib/rate-limit.ts';
import type { Logger } from '../logger.ts';
import type { AuthUser, TokenService } from '../modules/auth/tokens.ts';
import type { Geocoder } from '../modules/events/geocoder.ts';
import type { CheckoutDeps } from '../payments/checkout.service.ts';
import type { PayPalSimulator } from '../payments/paypal/simulator.ts';

/** Long-lived collaborators, built once per process. */
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
  /** The offline PayPal, served under /paypal-sim when no PayPal credentials are configured. */
  paypalSimulator: PayPalSimulator | null;
};

/** What every procedure sees: its own EntityManager fork and what the transport told us. */
export type Context = {
  deps: AppDeps;
  em: EntityManager;
  requestId: string;
  ip: string;
  authorization: string | null;
  idempotencyKey: string | null;
  user: AuthUser | null;
};

export type RequestFacts = {
  requestId: string;
  ip: string;
  authorization: string | null;
  idempotencyKey: string | null;
};

/** Pure: tests call procedures through `createCaller(createContextInner(...))` without HTTP. */
export function createContextInner(deps: AppDeps, facts: RequestFacts): Context {
  return { deps, em: deps.orm.em.fork(), user: null, ...facts };
}
