import { authRouter } from '../modules/auth/auth.router.ts';
import { bookingsRouter } from '../modules/bookings/bookings.router.ts';
import { checkinRouter } from '../modules/checkin/checkin.router.ts';
import { eventsRouter } from '../modules/events/events.router.ts';
import { queueRouter } from '../modules/onsale/onsale.router.ts';
import { ticketsRouter } from '../modules/tickets/tickets.router.ts';
import { waitlistRouter } from '../modules/waitlist/waitlist.router.ts';
import { router } from './init.ts';

export const appRouter = router({
  auth: authRouter,
  bookings: bookingsRouter,
  checkin: checkinRouter,
  events: eventsRouter,
  queue: queueRouter,
  tickets: ticketsRouter,
  waitlist: waitlistRouter,
});

/** Clients import only this type, never the router value. */
export type AppRouter = typeof appRouter;
