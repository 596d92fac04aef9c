import type { MikroORM } from '@boxoffice/db';
import type { JobHandlers } from '../jobs/tasks.ts';
import { type CheckoutDeps, settlePayment } from './checkout.service.ts';
import { attemptRefund, type RefundsDeps } from './refunds.service.ts';
import { processWebhookEvent } from './webhooks/webhook-events.ts';

/**
 * The payments side's jobs: making a released booking agree with its PayPal order, acting on a
 * stored webhook event, and carrying a refund through. Each fails while there is more to do, so
 * graphile-worker tries again with a growing delay.
 */
export function paymentJobs(deps: {
  orm: MikroORM;
  checkout: CheckoutDeps;
  /** Shared with the requests of this process (their in-flight refunds); made here when not given. */
  refunds?: RefundsDeps;
}): Pick<JobHandlers, 'reconcile-payment' | 'paypal-webhook' | 'refund-booking'> {
  const { checkout } = deps;
  const refunds = deps.refunds ?? { checkout, refunding: new Map() };
  return {
    'reconcile-payment': async ({ bookingId }) => {
      const outcome = await settlePayment(checkout, deps.orm.em.fork(), bookingId, 'after_release');
      // not settled yet (PayPal unreachable or still working, money still to give back)
      const unsettled =
        outcome.kind === 'unavailable' ||
        outcome.kind === 'pending' ||
        outcome.kind === 'processing' ||
        ('refund' in outcome && outcome.refund === 'scheduled');
      if (unsettled) throw new Error(`payment for booking ${bookingId} not settled yet: ${outcome.kind}`);
    },
    'paypal-webhook': async ({ eventId }) => {
      await processWebhookEvent({ orm: deps.orm, refunds, log: checkout.log }, eventId);
    },
    'refund-booking': async ({ bookingId }) => {
      const result = await attemptRefund(refunds, deps.orm.em.fork(), bookingId);
      // a failed refund is tried again under a new PayPal-Request-Id; a pending one is asked after
      if (result === 'failed' || result === 'pending' || result === 'unavailable')
        throw new Error(`refund of booking ${bookingId} not done yet: ${result}`);
    },
  };
}
