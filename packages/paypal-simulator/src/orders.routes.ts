import { Hono } from 'hono';
import type { Faults } from './faults.ts';
import type { Operation, SimEnv } from './operations.ts';
import type { RedirectPolicy } from './redirects.ts';
import { type Clock, isoTime, randomId, type SimCapture, type SimOrder, type SimStore } from './state.ts';
import type { WebhookPublisher } from './webhooks.ts';
import {
  CreateOrderBody,
  checkAmount,
  idempotentPost,
  issue,
  link,
  notFound,
  paypalError,
  readJson,
  requestIdOf,
  schemaDetails,
  type Views,
  wantsRepresentation,
} from './wire.ts';

/** Orders v2: create, get, capture. */
export function ordersRoutes(deps: {
  store: SimStore;
  views: Views;
  operation: Operation;
  faults: Faults;
  redirects: RedirectPolicy;
  clock: Clock;
  allowDuplicateInvoiceId: boolean;
  webhooks: WebhookPublisher;
}): Hono<SimEnv> {
  const { store, views, operation, faults, redirects, clock } = deps;
  const app = new Hono<SimEnv>();

  app.post(
    '/v2/checkout/orders',
    operation('createOrder', true, async (c) => {
      const read = await readJson(c);
      if (!read.ok) return read.response;
      const view = wantsRepresentation(c) ? 'full' : 'minimal-create';
      // No await from here on: a concurrent retry with the same PayPal-Request-Id must see this order.
      const requestId = requestIdOf(c);
      const prior = requestId ? store.orderCreatedBy(requestId) : undefined;
      if (prior) return c.json(views.orderJson(prior, view), 200);

      const parsed = CreateOrderBody.safeParse(read.body);
      if (!parsed.success) return paypalError(c, 400, schemaDetails(parsed.error, read.body));
      const input = parsed.data;
      if (input.intent !== 'CAPTURE')
        return issue(c, 422, 'UNSUPPORTED_INTENT', { field: '/intent', value: input.intent });
      const unit = input.purchase_units[0];
      if (!unit) return paypalError(c, 400);
      const checked = checkAmount(unit.amount, '/purchase_units/0/amount');
      if ('detail' in checked) return paypalError(c, 422, [checked.detail]);

      const fromPaymentSource = input.payment_source?.paypal.experience_context;
      const experience = fromPaymentSource ?? input.application_context ?? {};
      const experienceField = fromPaymentSource ? '/payment_source/paypal/experience_context' : '/application_context';
      for (const [name, value] of [
        ['return_url', experience.return_url],
        ['cancel_url', experience.cancel_url],
      ] as const) {
        if (value !== undefined && !redirects.allows(value)) {
          return issue(c, 422, 'REDIRECT_URL_NOT_ALLOWED', {
            field: `${experienceField}/${name}`,
            value: value.slice(0, 256),
            location: 'body',
          });
        }
      }

      const time = isoTime(clock);
      const order: SimOrder = {
        id: randomId(17),
        intent: 'CAPTURE',
        status: input.payment_source?.paypal ? 'PAYER_ACTION_REQUIRED' : 'CREATED',
        referenceId: unit.reference_id ?? 'default',
        amount: { currency_code: unit.amount.currency_code, value: checked.value },
        customId: unit.custom_id ?? null,
        invoiceId: unit.invoice_id ?? null,
        description: unit.description ?? null,
        softDescriptor: unit.soft_descriptor ?? null,
        brandName: experience.brand_name ?? null,
        returnUrl: experience.return_url ?? null,
        cancelUrl: experience.cancel_url ?? null,
        paymentSourceFlow: Boolean(input.payment_source?.paypal),
        payer: null,
        captures: [],
        cancelCount: 0,
        createTime: time,
        updateTime: time,
      };
      store.addOrder(order, requestId);
      return c.json(views.orderJson(order, view), 201);
    }),
  );

  app.get(
    '/v2/checkout/orders/:id',
    operation('getOrder', true, (c) => {
      const id = c.req.param('id') ?? '';
      const order = store.order(id);
      return order ? c.json(views.orderJson(order, 'full')) : notFound(c, id);
    }),
  );

  app.post(
    '/v2/checkout/orders/:id/capture',
    operation('captureOrder', true, async (c) => {
      const id = c.req.param('id') ?? '';
      const read = await readJson(c);
      if (!read.ok) return read.response;
      const order = store.order(id);
      if (!order) return notFound(c, id);
      const { key, replay } = idempotentPost(c, store, 'capture', id);
      if (replay) return replay;

      if (order.status === 'COMPLETED') return issue(c, 422, 'ORDER_ALREADY_CAPTURED');
      if (order.status === 'VOIDED') return issue(c, 422, 'ORDER_COMPLETED_OR_VOIDED');
      if (order.status !== 'APPROVED') return issue(c, 422, 'ORDER_NOT_APPROVED');
      if (!deps.allowDuplicateInvoiceId && store.invoicePaidElsewhere(order))
        return issue(c, 422, 'DUPLICATE_INVOICE_ID');

      const behaviour = faults.takeCaptureBehaviour(id);
      if (behaviour.instrumentDeclined) {
        return issue(c, 422, 'INSTRUMENT_DECLINED', {}, [link(views.approveUrl(order.id), 'redirect', 'GET')]);
      }
      const time = isoTime(clock);
      const capture: SimCapture = {
        id: randomId(17),
        orderId: order.id,
        status: behaviour.status ?? 'COMPLETED',
        amount: {
          currency_code: behaviour.currency ?? order.amount.currency_code,
          value: behaviour.amountValue ?? order.amount.value,
        },
        customId: behaviour.customId ?? order.customId,
        invoiceId: order.invoiceId,
        refunds: [],
        createTime: time,
        updateTime: time,
      };
      order.status = 'COMPLETED';
      order.updateTime = time;
      store.addCapture(order, capture);
      const body = views.orderJson(order, wantsRepresentation(c) ? 'full' : 'minimal-capture');
      if (key) store.remember(key, body);
      deps.webhooks.captureChanged(capture);
      return c.json(body, 201);
    }),
  );

  return app;
}
