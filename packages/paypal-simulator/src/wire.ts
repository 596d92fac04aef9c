import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { currencyExponent, minorToPayPal, PAYPAL_CURRENCIES, payPalToMinor } from './money.ts';
import type { SimCapture, SimMoney, SimOrder, SimPayer, SimRefund, SimStore } from './state.ts';

/** PayPal's wire format: request bodies, the JSON the simulator answers, and PayPal's error bodies. */

export type Detail = { issue: string; description: string; field?: string; value?: string; location?: 'body' | 'path' };
export type Link = { href: string; rel: string; method: 'GET' | 'POST' | 'PATCH' };

const ERROR_TEXT: Record<number, [string, string]> = {
  400: ['INVALID_REQUEST', 'Request is not well-formed, syntactically incorrect, or violates schema.'],
  401: [
    'AUTHENTICATION_FAILURE',
    'Authentication failed due to invalid authentication credentials or a missing Authorization header.',
  ],
  403: ['NOT_AUTHORIZED', 'Authorization failed due to insufficient permissions.'],
  404: ['RESOURCE_NOT_FOUND', 'The specified resource does not exist.'],
  422: [
    'UNPROCESSABLE_ENTITY',
    'The requested action could not be performed, semantically incorrect, or failed business validation.',
  ],
  429: ['RATE_LIMIT_REACHED', 'Too many requests. Blocked due to rate limiting.'],
  500: ['INTERNAL_SERVER_ERROR', 'An internal server error has occurred.'],
  502: ['BAD_GATEWAY', 'Bad gateway.'],
  503: ['SERVICE_UNAVAILABLE', 'Service Unavailable.'],
};

export const ISSUE_TEXT = {
  MISSING_REQUIRED_PARAMETER: 'A required field / parameter is missing.',
  INVALID_PARAMETER_SYNTAX: 'The value of a field does not conform to the expected format.',
  INVALID_PARAMETER_VALUE: 'The value of a field is invalid.',
  INVALID_STRING_LENGTH: 'The value of a field is either too short or too long.',
  INVALID_ARRAY_MIN_ITEMS: 'The number of items in an array parameter is too small.',
  INVALID_ARRAY_MAX_ITEMS: 'The number of items in an array parameter is too large.',
  MALFORMED_REQUEST_JSON: 'The request JSON is not well formed.',
  INVALID_RESOURCE_ID: 'Specified resource ID does not exist. Please check the resource ID and try again.',
  CURRENCY_NOT_SUPPORTED: 'Currency code is not currently supported.',
  CANNOT_BE_ZERO_OR_NEGATIVE: 'Must be greater than zero.',
  DECIMALS_NOT_SUPPORTED: 'Currency does not support decimals.',
  DECIMAL_PRECISION: 'If the currency supports decimals, only two decimal place precision is supported.',
  ORDER_NOT_APPROVED:
    "Payer has not yet approved the Order for payment. Please redirect the payer to the 'rel':'approve' url returned as part of the HATEOAS links within the Create Order call or provide a valid payment_source in the request.",
  ORDER_ALREADY_CAPTURED: "Order already captured. If 'intent=CAPTURE' only one capture per order is allowed.",
  ORDER_COMPLETED_OR_VOIDED: 'Order is voided or completed and hence cannot be captured.',
  INSTRUMENT_DECLINED:
    "The instrument presented was either declined by the processor or bank, or it can't be used for this payment.",
  DUPLICATE_INVOICE_ID:
    'Duplicate Invoice ID detected. To avoid a potential duplicate transaction your account setting requires that Invoice Id be unique for each transaction.',
  REFUND_AMOUNT_EXCEEDED:
    'The refund amount must be less than or equal to the capture amount that has not yet been refunded.',
  CAPTURE_FULLY_REFUNDED: 'The capture has already been fully refunded.',
  PENDING_CAPTURE:
    'Cannot initiate a refund as the capture is pending. Capture is typically pending when the payer has not been charged.',
  REFUND_NOT_ALLOWED: 'Refund cannot be issued for this capture.',
  CURRENCY_MISMATCH: 'The currency of the refund must match the currency of the capture.',
  UNSUPPORTED_INTENT: 'The PayPal simulator supports intent CAPTURE only.',
  REDIRECT_URL_NOT_ALLOWED:
    "The URL is not under this simulator's allowed redirect prefixes, so the buyer would never be sent there.",
} as const;
export type Issue = keyof typeof ISSUE_TEXT;

const debugId = () => randomBytes(7).toString('hex').slice(0, 13);

export const link = (href: string, rel: string, method: Link['method']): Link => ({ href, rel, method });

/** PayPal's error body (name, message, debug_id, details, links), with the Paypal-Debug-Id header. */
export function paypalError(c: Context, status: number, details: Detail[] = [], extraLinks: Link[] = []) {
  const [name, message] = ERROR_TEXT[status] ?? ['INTERNAL_SERVER_ERROR', 'An internal server error has occurred.'];
  const id = debugId();
  const first = details[0];
  const links = first
    ? [
        link(
          `https://developer.paypal.com/api/rest/reference/orders/v2/errors/#${first.issue}`,
          'information_link',
          'GET',
        ),
        ...extraLinks,
      ]
    : extraLinks;
  c.header('Paypal-Debug-Id', id);
  return c.json(
    { name, message, debug_id: id, ...(details.length ? { details } : {}), ...(links.length ? { links } : {}) },
    status as ContentfulStatusCode,
  );
}

export const issue = (c: Context, status: number, code: Issue, extra: Partial<Detail> = {}, links: Link[] = []) =>
  paypalError(c, status, [{ issue: code, description: ISSUE_TEXT[code], ...extra }], links);

export const notFound = (c: Context, id: string) =>
  issue(c, 404, 'INVALID_RESOURCE_ID', { field: '/id', value: id, location: 'path' });

/** Reads a JSON body; an empty body counts as `{}` (PayPal accepts that for capture and refund). */
export async function readJson(c: Context): Promise<{ ok: true; body: unknown } | { ok: false; response: Response }> {
  const text = await c.req.text();
  if (text.trim() === '') return { ok: true, body: {} };
  try {
    const body: unknown = JSON.parse(text);
    if (body !== null && typeof body === 'object' && !Array.isArray(body)) return { ok: true, body };
  } catch {
    // answered below, like PayPal, with MALFORMED_REQUEST_JSON
  }
  return { ok: false, response: issue(c, 400, 'MALFORMED_REQUEST_JSON', { location: 'body' }) };
}

export const wantsRepresentation = (c: Context) => /return=representation/i.test(c.req.header('prefer') ?? '');

export function requestIdOf(c: Context): string | null {
  const value = c.req.header('paypal-request-id')?.trim();
  return value ? value : null;
}

/**
 * A POST's idempotency, as PayPal keeps it: the key its answer is remembered under (this operation
 * on this resource with this PayPal-Request-Id; none without the header) and, for a repeat, the
 * answer already given, sent again.
 */
export function idempotentPost(
  c: Context,
  store: Pick<SimStore, 'replay'>,
  operation: string,
  id: string,
): { key: string | null; replay: Response | undefined } {
  const requestId = requestIdOf(c);
  const key = requestId ? `${operation}:${id}:${requestId}` : null;
  const replayed = key ? store.replay(key) : undefined;
  return { key, replay: replayed ? c.json(replayed.body as object, 201) : undefined };
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

const HttpUrl = z.string().max(2048).refine(isHttpUrl, 'expected an absolute http(s) URL');
const ExperienceContext = z.object({
  brand_name: z.string().min(1).max(127).optional(),
  locale: z.string().min(2).max(10).optional(),
  shipping_preference: z.enum(['GET_FROM_FILE', 'NO_SHIPPING', 'SET_PROVIDED_ADDRESS']).optional(),
  landing_page: z.enum(['LOGIN', 'GUEST_CHECKOUT', 'NO_PREFERENCE']).optional(),
  user_action: z.enum(['CONTINUE', 'PAY_NOW']).optional(),
  return_url: HttpUrl.optional(),
  cancel_url: HttpUrl.optional(),
});
const Money = z.object({
  currency_code: z.string().regex(/^[A-Z]{3}$/),
  value: z
    .string()
    .max(32)
    .regex(/^((-?[0-9]+)|(-?([0-9]+)?[.][0-9]+))$/),
});
export const CreateOrderBody = z.object({
  intent: z.enum(['CAPTURE', 'AUTHORIZE']),
  purchase_units: z
    .array(
      z.object({
        reference_id: z.string().min(1).max(256).optional(),
        amount: Money,
        custom_id: z.string().min(1).max(127).optional(),
        invoice_id: z.string().min(1).max(127).optional(),
        description: z.string().min(1).max(127).optional(),
        soft_descriptor: z.string().min(1).max(22).optional(),
      }),
    )
    .min(1)
    // PayPal allows up to 10 purchase units; the simulator models the single-unit checkout Boxoffice uses.
    .max(1),
  payment_source: z.object({ paypal: z.object({ experience_context: ExperienceContext.optional() }) }).optional(),
  application_context: ExperienceContext.optional(),
});
export const RefundBody = z.object({
  amount: Money.optional(),
  invoice_id: z.string().min(1).max(127).optional(),
  custom_id: z.string().min(1).max(127).optional(),
  note_to_payer: z.string().min(1).max(255).optional(),
});

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** Turns schema violations into PayPal's 400 details (JSON-pointer fields, PayPal issue names). */
export function schemaDetails(error: z.ZodError, body: unknown): Detail[] {
  return error.issues.map((problem) => {
    const field = `/${problem.path.map(String).join('/')}`;
    const given = valueAt(body, problem.path);
    let code: Issue = 'INVALID_PARAMETER_SYNTAX';
    if (given === undefined) code = 'MISSING_REQUIRED_PARAMETER';
    else if ((problem.code === 'too_big' || problem.code === 'too_small') && problem.origin === 'array')
      code = problem.code === 'too_big' ? 'INVALID_ARRAY_MAX_ITEMS' : 'INVALID_ARRAY_MIN_ITEMS';
    else if (problem.code === 'too_big' || problem.code === 'too_small') code = 'INVALID_STRING_LENGTH';
    else if (problem.code === 'invalid_value') code = 'INVALID_PARAMETER_VALUE';
    const detail: Detail = { field, issue: code, description: ISSUE_TEXT[code], location: 'body' };
    if (typeof given === 'string' && given.length <= 256) detail.value = given;
    return detail;
  });
}

/** PayPal's business rules for an amount; returns the 422 detail or the normalised value. */
export function checkAmount(money: SimMoney, field: string): { detail: Detail } | { value: string } {
  const fail = (code: Issue, at: string): { detail: Detail } => ({
    detail: { field: at, issue: code, description: ISSUE_TEXT[code], value: money.value, location: 'body' },
  });
  if (!PAYPAL_CURRENCIES.has(money.currency_code)) return fail('CURRENCY_NOT_SUPPORTED', `${field}/currency_code`);
  const raw = money.value.startsWith('.') ? `0${money.value}` : money.value;
  if (raw.startsWith('-') || !/[1-9]/.test(raw)) return fail('CANNOT_BE_ZERO_OR_NEGATIVE', `${field}/value`);
  const decimals = raw.split('.')[1]?.length ?? 0;
  if (currencyExponent(money.currency_code) === 0 && raw.includes('.'))
    return fail('DECIMALS_NOT_SUPPORTED', `${field}/value`);
  if (decimals > 2) return fail('DECIMAL_PRECISION', `${field}/value`);
  return { value: minorToPayPal(payPalToMinor(raw, money.currency_code), money.currency_code) };
}

export type OrderView = 'full' | 'minimal-create' | 'minimal-capture';

/** The JSON PayPal answers for orders, captures and refunds, with links under `publicUrl`. */
export function createViews(publicUrl: string) {
  const merchant = { email_address: 'merchant@boxoffice.example', merchant_id: 'SIMMERCHANT01' };
  const orderUrl = (id: string) => `${publicUrl}/v2/checkout/orders/${id}`;
  const approveUrl = (id: string) => `${publicUrl}/checkoutnow?token=${id}`;

  function orderLinks(order: SimOrder): Link[] {
    const self = link(orderUrl(order.id), 'self', 'GET');
    switch (order.status) {
      case 'CREATED':
        return [
          self,
          link(approveUrl(order.id), 'approve', 'GET'),
          link(orderUrl(order.id), 'update', 'PATCH'),
          link(`${orderUrl(order.id)}/capture`, 'capture', 'POST'),
        ];
      case 'PAYER_ACTION_REQUIRED':
        return [self, link(approveUrl(order.id), 'payer-action', 'GET')];
      case 'APPROVED':
        return [
          self,
          link(orderUrl(order.id), 'update', 'PATCH'),
          link(`${orderUrl(order.id)}/capture`, 'capture', 'POST'),
        ];
      default:
        return [self];
    }
  }

  function captureJson(capture: SimCapture) {
    const captureUrl = `${publicUrl}/v2/payments/captures/${capture.id}`;
    const refundable = capture.status === 'COMPLETED' || capture.status === 'PARTIALLY_REFUNDED';
    return {
      id: capture.id,
      status: capture.status,
      ...(capture.status === 'PENDING' ? { status_details: { reason: 'PENDING_REVIEW' } } : {}),
      amount: capture.amount,
      final_capture: true,
      seller_protection: { status: 'ELIGIBLE', dispute_categories: ['ITEM_NOT_RECEIVED', 'UNAUTHORIZED_TRANSACTION'] },
      ...(capture.customId === null ? {} : { custom_id: capture.customId }),
      ...(capture.invoiceId === null ? {} : { invoice_id: capture.invoiceId }),
      supplementary_data: { related_ids: { order_id: capture.orderId } },
      links: [
        link(captureUrl, 'self', 'GET'),
        ...(refundable ? [link(`${captureUrl}/refund`, 'refund', 'POST')] : []),
        link(orderUrl(capture.orderId), 'up', 'GET'),
      ],
      create_time: capture.createTime,
      update_time: capture.updateTime,
    };
  }

  const payerJson = (payer: SimPayer) => ({
    name: { given_name: payer.givenName, surname: payer.surname },
    email_address: payer.email,
    payer_id: payer.payerId,
    address: { country_code: payer.countryCode },
  });

  function paymentSourceJson(order: SimOrder) {
    if (order.payer) {
      const { payer } = order;
      return {
        payment_source: {
          paypal: {
            email_address: payer.email,
            account_id: payer.payerId,
            account_status: 'VERIFIED',
            name: { given_name: payer.givenName, surname: payer.surname },
            address: { country_code: payer.countryCode },
          },
        },
      };
    }
    return order.paymentSourceFlow ? { payment_source: { paypal: {} } } : {};
  }

  /** `full` is Prefer: return=representation (and every GET); the others are PayPal's minimal answers. */
  function orderJson(order: SimOrder, view: OrderView) {
    const refunds = order.captures.flatMap((capture) => capture.refunds);
    const payments = order.captures.length
      ? {
          payments: {
            captures: order.captures.map(captureJson),
            ...(refunds.length ? { refunds: refunds.map((refund) => refundJson(refund, true)) } : {}),
          },
        }
      : {};
    if (view === 'minimal-create') {
      return { id: order.id, status: order.status, ...paymentSourceJson(order), links: orderLinks(order) };
    }
    if (view === 'minimal-capture') {
      return {
        id: order.id,
        status: order.status,
        ...paymentSourceJson(order),
        purchase_units: [{ reference_id: order.referenceId, ...payments }],
        ...(order.payer ? { payer: payerJson(order.payer) } : {}),
        links: orderLinks(order),
      };
    }
    return {
      id: order.id,
      intent: order.intent,
      status: order.status,
      ...paymentSourceJson(order),
      purchase_units: [
        {
          reference_id: order.referenceId,
          amount: order.amount,
          payee: merchant,
          ...(order.description === null ? {} : { description: order.description }),
          ...(order.customId === null ? {} : { custom_id: order.customId }),
          ...(order.invoiceId === null ? {} : { invoice_id: order.invoiceId }),
          ...(order.softDescriptor === null ? {} : { soft_descriptor: order.softDescriptor }),
          ...payments,
        },
      ],
      ...(order.payer ? { payer: payerJson(order.payer) } : {}),
      create_time: order.createTime,
      update_time: order.updateTime,
      links: orderLinks(order),
    };
  }

  function refundJson(refund: SimRefund, full: boolean) {
    const links = [
      link(`${publicUrl}/v2/payments/refunds/${refund.id}`, 'self', 'GET'),
      link(`${publicUrl}/v2/payments/captures/${refund.captureId}`, 'up', 'GET'),
    ];
    if (!full) return { id: refund.id, status: refund.status, links };
    return {
      id: refund.id,
      status: refund.status,
      amount: refund.amount,
      ...(refund.noteToPayer === null ? {} : { note_to_payer: refund.noteToPayer }),
      create_time: refund.createTime,
      update_time: refund.createTime,
      links,
    };
  }

  return { approveUrl, orderJson, captureJson, refundJson };
}

export type Views = ReturnType<typeof createViews>;
