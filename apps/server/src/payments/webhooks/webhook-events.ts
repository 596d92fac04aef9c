import type { EntityManager, MikroORM } from '@boxoffice/db';
import { z } from 'zod';
import { scheduleJob } from '../../jobs/job-queue.ts';
import type { Logger } from '../../logger.ts';
import { type SettleOutcome, settlePayment } from '../checkout.service.ts';
import { payPalFailureKind } from '../paypal/gateway.ts';
import { applyProviderRefund, type RefundsDeps } from '../refunds.service.ts';

/**
 * PayPal's webhook events: stored once by id when a verified delivery arrives, acted on by a job.
 * The payload only says where to look: what the order, capture or refund is now is read again from
 * PayPal, and the booking is settled through the same paths as a return visit or the reconcile job,
 * so an event delivered twice, late or out of order changes nothing that its first delivery, or
 * another event, has not already changed.
 */

export const HANDLED_EVENT_TYPES = [
  'CHECKOUT.ORDER.APPROVED',
  'PAYMENT.CAPTURE.COMPLETED',
  'PAYMENT.CAPTURE.PENDING',
  'PAYMENT.CAPTURE.DENIED',
  'PAYMENT.CAPTURE.DECLINED',
  'PAYMENT.CAPTURE.REFUNDED',
  'PAYMENT.CAPTURE.REVERSED',
] as const;

const ResourceId = z.string().regex(/^[A-Za-z0-9-]{1,64}$/);
/** What is read from the payload: the event's identity and the id of what it is about. */
export const WebhookEventSchema = z.object({
  id: z.string().min(1).max(100),
  event_type: z.string().min(1).max(100),
  resource_type: z.string().max(100).optional(),
  // any signed event is stored; only an id of PayPal's form is ever looked up
  resource: z
    .object({ id: z.string().max(200).optional() })
    .loose()
    .optional(),
});
export type WebhookEvent = z.infer<typeof WebhookEventSchema>;

/** Stores the event and schedules its processing, in one transaction; `duplicate` when it was stored before. */
export async function storeWebhookEvent(
  em: EntityManager,
  event: WebhookEvent,
  transmissionId: string,
  now: Date,
): Promise<'stored' | 'duplicate'> {
  return em.transactional(async (tx) => {
    const rows = await tx.execute<{ event_id: string }[]>(
      `INSERT INTO webhook_events (provider, event_id, event_type, resource_type, resource_id, transmission_id, body, received_at)
       VALUES ('paypal', ?, ?, ?, ?, ?, ?::jsonb, ?) ON CONFLICT (provider, event_id) DO NOTHING RETURNING event_id`,
      [
        event.id,
        event.event_type,
        event.resource_type ?? null,
        event.resource?.id ?? null,
        transmissionId,
        JSON.stringify(event),
        now,
      ],
    );
    if (rows.length === 0) return 'duplicate';
    await scheduleJob(tx, 'paypal-webhook', { eventId: event.id }, { runAt: now, jobKey: event.id });
    return 'stored';
  });
}

export type WebhookProcessingDeps = { orm: MikroORM; refunds: RefundsDeps; log: Logger };

/** Thrown when PayPal should be asked again later: the job fails and graphile-worker retries it. */
class NotYet extends Error {}

async function bookingOfOrder(em: EntityManager, orderId: string | null): Promise<string | null> {
  if (!orderId) return null;
  const [row] = await em.execute<{ id: string }[]>('SELECT id FROM bookings WHERE paypal_order_id = ?', [orderId]);
  return row?.id ?? null;
}

function settled(outcome: SettleOutcome): string {
  // PayPal unreachable, or money in whose recording failed: look again
  if (outcome.kind === 'unavailable' || outcome.kind === 'processing') throw new NotYet(`settlement ${outcome.kind}`);
  return `settled:${outcome.kind}:${outcome.booking.status}`;
}

async function act(deps: WebhookProcessingDeps, em: EntityManager, type: string, resourceId: string): Promise<string> {
  const { checkout } = deps.refunds;
  const { gateway } = checkout;
  switch (type) {
    case 'CHECKOUT.ORDER.APPROVED': {
      // the buyer approved (and may never come back): capture through the return visit's path
      const bookingId = await bookingOfOrder(em, resourceId);
      if (!bookingId) return 'ignored:unknown_order';
      return settled(await settlePayment(checkout, em, bookingId, 'buyer_returned'));
    }
    case 'PAYMENT.CAPTURE.COMPLETED':
    case 'PAYMENT.CAPTURE.PENDING':
    case 'PAYMENT.CAPTURE.DENIED':
    case 'PAYMENT.CAPTURE.DECLINED': {
      const capture = await gateway.getCapture(resourceId);
      const bookingId = await bookingOfOrder(em, capture.orderId);
      if (!bookingId || capture.customId !== bookingId) return 'ignored:unknown_capture';
      // never captures new money: only what PayPal took is turned into tickets or given back
      return settled(await settlePayment(checkout, em, bookingId, 'after_release'));
    }
    case 'PAYMENT.CAPTURE.REFUNDED':
    case 'PAYMENT.CAPTURE.REVERSED': {
      const refund = await gateway.getRefund(resourceId);
      if (!refund.captureId) return 'ignored:refund_without_capture';
      const capture = await gateway.getCapture(refund.captureId);
      const bookingId = await bookingOfOrder(em, capture.orderId);
      if (!bookingId || capture.customId !== bookingId) return 'ignored:unknown_capture';
      const result = await applyProviderRefund(deps.refunds, em, bookingId, { refund, capture });
      if (result === 'pending') throw new NotYet('refund still pending at PayPal');
      return `refund:${result}`;
    }
    default:
      return 'ignored:event_type';
  }
}

/** The job: acts on the stored event once; failing (to be retried) while PayPal cannot say what happened. */
export async function processWebhookEvent(deps: WebhookProcessingDeps, eventId: string): Promise<string> {
  const em = deps.orm.em.fork();
  const [row] = await em.execute<{ event_type: string; resource_id: string | null; processed_at: Date | null }[]>(
    "SELECT event_type, resource_id, processed_at FROM webhook_events WHERE provider = 'paypal' AND event_id = ?",
    [eventId],
  );
  if (!row) return 'missing';
  if (row.processed_at) return 'already_processed';
  let outcome: string;
  try {
    outcome =
      row.resource_id && ResourceId.safeParse(row.resource_id).success
        ? await act(deps, em, row.event_type, row.resource_id)
        : 'ignored:no_resource';
  } catch (error) {
    const kind = payPalFailureKind(error);
    // a resource PayPal does not know was not ours to act on; anything else is tried again
    if (kind === 'not_found') outcome = 'ignored:not_found_at_paypal';
    else {
      deps.log.warn({ err: error, eventId, eventType: row.event_type }, 'webhook event not processed yet; retrying');
      throw error;
    }
  }
  await em.execute(
    "UPDATE webhook_events SET processed_at = ?, outcome = ? WHERE provider = 'paypal' AND event_id = ?",
    [deps.refunds.checkout.clock.now(), outcome, eventId],
  );
  return outcome;
}
