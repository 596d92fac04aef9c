import type { EntityManager, MikroORM } from '@boxoffice/db';
import type { Clock } from '../lib/clock.ts';
import { purgeExpiredIdempotencyKeys } from '../lib/idempotency.ts';
import { releaseHold } from '../modules/bookings/holds.ts';
import { type CheckoutDeps, settlePayment } from '../payments/checkout.service.ts';
import type { JobHandler } from './job-queue.ts';
import { EXPIRE_HOLD_QUEUE, RECONCILE_PAYMENT_QUEUE } from './queues.ts';

/** What each queue's jobs do. Every handler is idempotent: a job may run again after a crash. */
export function jobHandlers(deps: { orm: MikroORM; clock: Clock; checkout: CheckoutDeps }): Record<string, JobHandler> {
  return {
    [EXPIRE_HOLD_QUEUE]: async (payload) => {
      const now = deps.clock.now();
      await deps.orm.em
        .fork()
        .transactional((tx) => releaseHold(tx, String(payload.bookingId), 'EXPIRED', now, { onlyIfLapsed: true }));
    },
    [RECONCILE_PAYMENT_QUEUE]: async (payload) => {
      const outcome = await settlePayment(
        deps.checkout,
        deps.orm.em.fork(),
        String(payload.bookingId),
        'after_release',
      );
      // not settled yet (PayPal unreachable or still working, money still to give back): try again later
      const unsettled =
        outcome.kind === 'unavailable' ||
        outcome.kind === 'pending' ||
        outcome.kind === 'processing' ||
        ('refund' in outcome && outcome.refund === 'scheduled');
      if (unsettled)
        throw new Error(`payment for booking ${String(payload.bookingId)} not settled yet: ${outcome.kind}`);
    },
  };
}

const KEEP_DONE_JOBS_MS = 7 * 86_400_000;

/** Periodic clean-up: idempotency keys past their 24 hours, jobs finished a week ago. */
export async function housekeeping(em: EntityManager, now: Date): Promise<void> {
  await purgeExpiredIdempotencyKeys(em, now);
  await em.execute('DELETE FROM jobs WHERE done_at < ?', [new Date(now.getTime() - KEEP_DONE_JOBS_MS)]);
}
