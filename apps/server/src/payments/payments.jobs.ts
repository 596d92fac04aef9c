import type { MikroORM } from '@boxoffice/db';
import type { JobHandlers } from '../jobs/tasks.ts';
import { type CheckoutDeps, settlePayment } from './checkout.service.ts';

/** The payments side's jobs: making a released booking agree with its PayPal order. */
export function paymentJobs(deps: { orm: MikroORM; checkout: CheckoutDeps }): Pick<JobHandlers, 'reconcile-payment'> {
  return {
    'reconcile-payment': async ({ bookingId }) => {
      const outcome = await settlePayment(deps.checkout, deps.orm.em.fork(), bookingId, 'after_release');
      // not settled yet (PayPal unreachable or still working, money still to give back): fail, so
      // graphile-worker tries again with a growing delay
      const unsettled =
        outcome.kind === 'unavailable' ||
        outcome.kind === 'pending' ||
        outcome.kind === 'processing' ||
        ('refund' in outcome && outcome.refund === 'scheduled');
      if (unsettled) throw new Error(`payment for booking ${bookingId} not settled yet: ${outcome.kind}`);
    },
  };
}
