import type { AuthUser } from '../modules/auth/tokens.ts';
import { createContextInner } from '../trpc/context.ts';
import { createCallerFactory } from '../trpc/init.ts';
import { appRouter } from '../trpc/root.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';

/**
 * The medium tier: the whole composition (services, ledger, jobs, the real PostgreSQL) with no
 * HTTP in between. Procedures are called through tRPC's `createCaller` on the same context the
 * transports build, so access rules, input validation and error mapping are the real ones.
 */
const createCaller = createCallerFactory(appRouter);

export type MediumServer = TestServer & {
  /** A caller acting as `user` (null: anonymous), as if it had sent that user's access token. */
  callerFor: (user: AuthUser | null) => Promise<ReturnType<typeof createCaller>>;
};

/**
 * The server still listens, because the offline PayPal it creates payments at is served over HTTP
 * (as PayPal is); the procedures under test are called directly.
 */
export async function startMediumServer(opts: TestServerOptions = {}): Promise<MediumServer> {
  const server = await startTestServer({ pollJobs: false, ...opts });
  return {
    ...server,
    callerFor: async (user) => {
      const authorization = user ? `Bearer ${await server.deps.tokens.signAccess(user)}` : null;
      return createCaller(
        createContextInner(server.deps, {
          requestId: 'medium-test',
          ip: '127.0.0.1',
          authorization,
          idempotencyKey: null,
        }),
      );
    },
  };
}
