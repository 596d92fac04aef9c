import { authRouter } from '../modules/auth/auth.router.ts';
import { bookingsRouter } from '../modules/bookings/bookings.router.ts';
import { eventsRouter } from '../modules/events/events.router.ts';
import { router } from './init.ts';

export const appRouter = router({
  auth: authRouter,
  bookings: bookingsRouter,
  events: eventsRouter,
});

/** Clients import only this type, never the router value. */
export type AppRouter = typeof appRouter;
