import { authRouter } from '../modules/auth/auth.router.ts';
import { router } from './init.ts';

export const appRouter = router({
  auth: authRouter,
});

/** Clients import only this type, never the router value. */
export type AppRouter = typeof appRouter;
