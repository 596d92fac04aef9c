import { Hono } from 'hono';
import type { Faults } from './faults.ts';
import { minorToPayPal, payPalToMinor } from './money.ts';
import type { Operation, SimEnv } from './operations.ts';
import { type Clock, isoTime, randomId, type SimCapture, type SimRefund, type SimStore } from './state.ts';
import type { WebhookPublisher } from './webhooks.ts';
import {
  checkAmount,
  idempotentPost,
  issue,
  notFound,
  paypalError,
  RefundBody,
  readJson,
  schemaDetails,
  type Views,
  wantsRepresentation,
} from './wire.ts';

/** What is left to refund on a capture, in minor units (failed refunds moved no money). */
export function refundableMinor(capture: SimCapture): number {
  const currency = capture.amount.currency_code;
  const refunded = capture.refunds
    .filter((refund) => refund.status === 'COMPLETED')
    .reduce((sum, refund) => sum + payPalToMinor(refund.amount.value, currency), 0);
  return payPalToMinor(capture.amount.value, currency) - refunded;
}

/**
 * Moves money back on a capture (the API's refund, a refund in PayPal's dashboard, a chargeback):
 * a COMPLETED refund marks the capture (PARTIALLY_)REFUNDED; a FAILED one changes nothing else.
 */
export function recordRefund(
  deps: { store: SimStore; clock: Clock },
  capture: SimCapture,
  input: { amountMinor: number; noteToPayer: string | null; status: SimRefund['status'] },
): SimRefund {
  const currency = capture.amount.currency_code;
  const remaining = refundableMinor(capture);
  const time = isoTime(deps.clock);
  const refund: SimRefund = {
    id: randomId(17),
    captureId: capture.id,
    status: input.status,
    amount: { currency_code: currency, value: minorToPayPal(input.amountMinor, currency) },
    noteToPayer: input.noteToPayer,
    createTime: time,
  };
  if (input.status === 'COMPLETED') {
    capture.status = input.amountMinor === remaining ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
    capture.updateTime = time;
  }
  deps.store.addRefund(capture, refund);
  return refund;
}

/** Payments v2: read a capture, refund it (fully or in part), read a refund. */
export function paymentsRoutes(deps: {
  store: SimStore;
  views: Views;
  operation: Operation;
  faults: Faults;
  webhooks: WebhookPublisher;
  clock: Clock;
}): Hono<SimEnv> {
  const { store, views, operation, clock } = deps;
  const app = new Hono<SimEnv>();

  app.get(
    '/v2/payments/captures/:id',
    operation('getCapture', true, (c) => {
      const id = c.req.param('id') ?? '';
      const capture = store.capture(id);
      return capture ? c.json(views.captureJson(capture)) : notFound(c, id);
    }),
  );

  app.post(
    '/v2/payments/captures/:id/refund',
    operation('refundCapture', true, async (c) => {
      const id = c.req.param('id') ?? '';
      const read = await readJson(c);
      if (!read.ok) return read.response;
      const capture = store.capture(id);
      if (!capture) return notFound(c, id);
      const { key, replay } = idempotentPost(c, store, 'refund', id);
      if (replay) return replay;

      const parsed = RefundBody.safeParse(read.body);
      if (!parsed.success) return paypalError(c, 400, schemaDetails(parsed.error, read.body));
      if (capture.status === 'REFUNDED') return issue(c, 422, 'CAPTURE_FULLY_REFUNDED');
      if (capture.status === 'PENDING') return issue(c, 422, 'PENDING_CAPTURE');
      if (capture.status === 'DECLINED') return issue(c, 422, 'REFUND_NOT_ALLOWED');

      const currency = capture.amount.currency_code;
      const remaining = refundableMinor(capture);
      let amountMinor = remaining;
      if (parsed.data.amount) {
        if (parsed.data.amount.currency_code !== currency) {
          return issue(c, 422, 'CURRENCY_MISMATCH', { field: '/amount/currency_code', location: 'body' });
        }
        const checked = checkAmount(parsed.data.amount, '/amount');
        if ('detail' in checked) return paypalError(c, 422, [checked.detail]);
        amountMinor = payPalToMinor(checked.value, currency);
        if (amountMinor > remaining) {
          return issue(c, 422, 'REFUND_AMOUNT_EXCEEDED', {
            field: '/amount/value',
            value: checked.value,
            location: 'body',
          });
        }
      }
      const behaviour = deps.faults.takeRefundBehaviour(capture.id);
      const refund = recordRefund({ store, clock }, capture, {
        amountMinor,
        noteToPayer: parsed.data.note_to_payer ?? null,
        status: behaviour?.status ?? 'COMPLETED',
      });
      const body = views.refundJson(refund, wantsRepresentation(c));
      // a repeat with this PayPal-Request-Id gets this answer again, a failed one included
      if (key) store.remember(key, body);
      if (refund.status === 'COMPLETED') deps.webhooks.refunded(refund);
      return c.json(body, 201);
    }),
  );

  app.get(
    '/v2/payments/refunds/:id',
    operation('getRefund', true, (c) => {
      const id = c.req.param('id') ?? '';
      const refund = store.refund(id);
      return refund ? c.json(views.refundJson(refund, true)) : notFound(c, id);
    }),
  );

  return app;
}
