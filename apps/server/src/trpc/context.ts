import type { EntityManager } from '@boxoffice/db';
import type { AppDeps } from '../deps.ts';
import type { AuthUser } from '../modules/auth/tokens.ts';

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
