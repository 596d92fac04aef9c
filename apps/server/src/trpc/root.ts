import { authRouter } from '../modules/auth/auth.router.ts';
import { bookingsRouter } from '../modules/bookings/bookings.router.ts';
import { router } from './init.ts';

export const appRouter = router({
  auth: authRouter,
  bookings: bookingsRouter,
});

/** Clients import only this type, never the router value. */
export type AppRouter = typeof appRouter;
