import type { TaskName } from './tasks.ts';

/** Releases a hold whose time ran out (payload: bookingId). */
export const EXPIRE_HOLD_QUEUE = 'expire-hold' satisfies TaskName;
/** Makes a booking agree with its PayPal order after a release, refunding money taken for nothing (payload: bookingId). */
export const RECONCILE_PAYMENT_QUEUE = 'reconcile-payment' satisfies TaskName;
/** Offers tickets that came back on sale to the first fitting buyers on an event's waitlist (payload: eventId). */
export const WAITLIST_OFFER_QUEUE = 'waitlist-offer' satisfies TaskName;
