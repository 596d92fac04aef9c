import { z } from 'zod';

/** What graphile-worker's crontab puts in the payload of a job it schedules. */
const cronPayload = z.object({
  _cron: z.object({ ts: z.string(), backfilled: z.boolean().optional() }).optional(),
});

/**
 * Every job the server knows: its name, the payload it carries (checked when it is scheduled and
 * again before it runs) and how many attempts it gets before it is left as failed.
 */
export const jobTasks = {
  /** Releases a hold whose time ran out. */
  'expire-hold': { payload: z.object({ bookingId: z.uuid() }), maxAttempts: 25 },
  /**
   * Makes a booking agree with its PayPal order after a release, refunding money taken for nothing.
   * Money must end in tickets or a refund, so it never gives up (smallint's ceiling: decades of
   * attempts at the six-hour backoff ceiling).
   */
  'reconcile-payment': { payload: z.object({ bookingId: z.uuid() }), maxAttempts: 32_767 },
  /** Acts on a stored PayPal webhook event (re-reading what it names from PayPal); done once. */
  'paypal-webhook': { payload: z.object({ eventId: z.string().min(1).max(100) }), maxAttempts: 1000 },
  /** Gives a booking's money back and then its tickets; like reconciling, it never gives up. */
  'refund-booking': { payload: z.object({ bookingId: z.uuid() }), maxAttempts: 32_767 },
  /** Sends one mail of the outbox (modules/mail); retried with backoff while the SMTP server refuses it. */
  'send-mail': { payload: z.object({ mailId: z.uuid() }), maxAttempts: 25 },
  /**
   * Runs an event's waiting room: the opening draw, then admissions at the rate the event can take;
   * it schedules itself again (one job per event, by its key) until the room is finished.
   */
  'admit-buyers': { payload: z.object({ eventId: z.uuid() }), maxAttempts: 1000 },
  /** Offers tickets that came back on sale to the first fitting buyers on the event's waitlist. */
  'waitlist-offer': { payload: z.object({ eventId: z.uuid() }), maxAttempts: 1000 },
  /** Periodic clean-up, scheduled by the crontab. */
  housekeeping: { payload: cronPayload, maxAttempts: 3 },
} as const satisfies Record<string, { payload: z.ZodType; maxAttempts: number }>;

export type TaskName = keyof typeof jobTasks;
export const taskNames = Object.keys(jobTasks) as TaskName[];

/** What a caller passes when scheduling `T`. */
export type TaskPayload<T extends TaskName> = z.input<(typeof jobTasks)[T]['payload']>;
/** What the handler of `T` receives, after validation. */
export type ParsedTaskPayload<T extends TaskName> = z.output<(typeof jobTasks)[T]['payload']>;

/** The running job, for handlers that log or behave differently on a retry. */
export type JobInfo = { id: string; attempts: number; maxAttempts: number };

export type JobHandler<T extends TaskName> = (payload: ParsedTaskPayload<T>, job: JobInfo) => Promise<void>;

/** One handler per task; a module contributes the part it owns (see `bookingJobs`, `paymentJobs`). */
export type JobHandlers = { [T in TaskName]: JobHandler<T> };
