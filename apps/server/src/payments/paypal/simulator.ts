import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { type Clock, systemClock } from '../../lib/clock.ts';
import { currencyExponent, minorToPayPal, PAYPAL_CURRENCIES, payPalToMinor } from './money.ts';

/**
 * An in-process stand-in for PayPal's REST API (OAuth token, Orders v2, captures, refunds) plus the
 * buyer's approval page. It speaks PayPal's wire format closely enough that the unmodified
 * @paypal/paypal-server-sdk works against it, so offline mode and tests exercise the real client.
 */

export const SIMULATOR_MOUNT_PATH = '/paypal-sim';
export const SIMULATOR_CLIENT_ID = 'sim-client-id';
export const SIMULATOR_CLIENT_SECRET = 'sim-client-secret';

export const SIM_OPERATIONS = [
  'token',
  'createOrder',
  'getOrder',
  'captureOrder',
  'getCapture',
  'refundCapture',
  'getRefund',
] as const;
export type SimOperation = (typeof SIM_OPERATIONS)[number];

export type SimOrderStatus = 'CREATED' | 'PAYER_ACTION_REQUIRED' | 'APPROVED' | 'COMPLETED' | 'VOIDED';
export type SimCaptureStatus = 'COMPLETED' | 'PENDING' | 'DECLINED' | 'PARTIALLY_REFUNDED' | 'REFUNDED';
export type SimMoney = { currency_code: string; value: string };
export type SimPayer = { payerId: string; email: string; givenName: string; surname: string; countryCode: string };

export type SimRefund = {
  id: string;
  captureId: string;
  status: 'COMPLETED';
  amount: SimMoney;
  noteToPayer: string | null;
  createTime: string;
};

export type SimCapture = {
  id: string;
  orderId: string;
  status: SimCaptureStatus;
  amount: SimMoney;
  customId: string | null;
  invoiceId: string | null;
  refunds: SimRefund[];
  createTime: string;
  updateTime: string;
};

export type SimOrder = {
  id: string;
  intent: 'CAPTURE';
  status: SimOrderStatus;
  referenceId: string;
  amount: SimMoney;
  customId: string | null;
  invoiceId: string | null;
  description: string | null;
  softDescriptor: string | null;
  brandName: string | null;
  returnUrl: string | null;
  cancelUrl: string | null;
  /** Created with payment_source.paypal: PayPal answers PAYER_ACTION_REQUIRED and a payer-action link. */
  paymentSourceFlow: boolean;
  payer: SimPayer | null;
  captures: SimCapture[];
  /** How often the buyer pressed Cancel on the approval page (PayPal keeps the order as it was). */
  cancelCount: number;
  createTime: string;
  updateTime: string;
};

/** One HTTP request the simulator received; credentials (the Authorization header) are never kept. */
export type SimRequest = {
  operation: SimOperation | null;
  method: string;
  /** Path and query as received. */
  url: string;
  requestId: string | null;
  body: string;
  /** 0 while the request is still being handled. */
  status: number;
};

/** How the next capture behaves; consumed by the next capture that would otherwise succeed. */
export type SimCaptureBehaviour = {
  /** Only for this order; without it, the next capture of any order. */
  orderId?: string;
  /** Capture status in the 201 answer. The order becomes COMPLETED in every case, as PayPal does. */
  status?: 'COMPLETED' | 'PENDING' | 'DECLINED';
  /** Answer 422 INSTRUMENT_DECLINED instead: nothing is captured and the order stays APPROVED. */
  instrumentDeclined?: boolean;
  /** Report a different amount, currency or custom_id on the capture, to test mismatch checks. */
  amountValue?: string;
  currency?: string;
  customId?: string;
};

export type SimFaultTiming = {
  times?: number;
  /** `before`: nothing is processed. `after`: the request takes effect but its answer is lost. */
  when?: 'before' | 'after';
};

export type PayPalSimulatorOptions = {
  /** Where browsers and API clients reach this app, e.g. http://localhost:3000/paypal-sim. */
  publicUrl: string;
  clientId?: string;
  clientSecret?: string;
  merchantName?: string;
  tokenTtlSeconds?: number;
  /** PayPal keeps PayPal-Request-Id keys about 6 hours. */
  idempotencyTtlSeconds?: number;
  /** PayPal's default account setting blocks a second payment with the same invoice_id. */
  allowDuplicateInvoiceId?: boolean;
  /** Adds POST /__sim/* endpoints that drive the controls over HTTP (for out-of-process tests). */
  exposeControls?: boolean;
  clock?: Clock;
};

export type PayPalSimulatorControls = {
  /** The next `times` (default 1) calls to `operation` answer HTTP `status` (default 500). */
  failNext(operation: SimOperation, opts?: SimFaultTiming & { status?: number }): void;
  /** The next `times` (default 1) calls to `operation` take `ms` longer; by default after taking effect. */
  hangNext(operation: SimOperation, opts: SimFaultTiming & { ms: number }): void;
  queueCapture(behaviour: SimCaptureBehaviour): void;
  /** What the Approve button does, without a browser. */
  approve(orderId: string, payer?: Partial<SimPayer>): SimOrder;
  voidOrder(orderId: string): SimOrder;
  /** Forgets the order, as PayPal does with unapproved orders after about 3 hours (GET answers 404). */
  expireOrder(orderId: string): void;
  /** Moves a PENDING capture on, as PayPal does after its review. */
  settleCapture(captureId: string, status: 'COMPLETED' | 'DECLINED'): SimCapture;
  /** Invalidates every access token handed out so far (clients must fetch a new one). */
  revokeTokens(): void;
  orders(): SimOrder[];
  order(orderId: string): SimOrder | undefined;
  capture(captureId: string): SimCapture | undefined;
  /** Captures actually performed for the order (idempotent replays do not count). */
  captureCount(orderId: string): number;
  /** HTTP calls received per operation, including failed and replayed ones. */
  counts(): Record<SimOperation, number>;
  /** The last 1000 requests, oldest first. */
  requests(): SimRequest[];
  /** Forgets orders, captures, faults, counters and recorded requests; issued tokens stay valid. */
  reset(): void;
};

export type PayPalSimulator = { app: Hono<SimEnv>; controls: PayPalSimulatorControls };

type SimEnv = { Variables: { simRequest: SimRequest } };
type Detail = { issue: string; description: string; field?: string; value?: string; location?: 'body' | 'path' };
type Fault =
  | { kind: 'fail'; status: number; when: 'before' | 'after' }
  | { kind: 'hang'; ms: number; when: 'before' | 'after' };
type StoredResponse = { status: ContentfulStatusCode; body: unknown; expiresAt: number };

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

const ISSUE_TEXT = {
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
} as const;
type Issue = keyof typeof ISSUE_TEXT;

const MAX_RECORDED_REQUESTS = 1000;
const MAX_RECORDED_BODY = 10_000;
const ALNUM = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789';
const randomId = (length: number) => Array.from({ length }, () => ALNUM[randomInt(ALNUM.length)]).join('');
const debugId = () => randomBytes(7).toString('hex').slice(0, 13);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** Adds PayPal's redirect parameters without re-encoding what the merchant's URL already carries. */
export function appendQuery(url: string, params: Record<string, string>): string {
  const hashAt = url.indexOf('#');
  const base = hashAt === -1 ? url : url.slice(0, hashAt);
  const fragment = hashAt === -1 ? '' : url.slice(hashAt);
  const query = Object.entries(params)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');
  const separator = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${separator}${query}${fragment}`;
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
const CreateOrderBody = z.object({
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
const RefundBody = z.object({
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
function schemaDetails(error: z.ZodError, body: unknown): Detail[] {
  return error.issues.map((issue) => {
    const field = `/${issue.path.map(String).join('/')}`;
    const given = valueAt(body, issue.path);
    let code: Issue = 'INVALID_PARAMETER_SYNTAX';
    if (given === undefined) code = 'MISSING_REQUIRED_PARAMETER';
    else if ((issue.code === 'too_big' || issue.code === 'too_small') && issue.origin === 'array')
      code = issue.code === 'too_big' ? 'INVALID_ARRAY_MAX_ITEMS' : 'INVALID_ARRAY_MIN_ITEMS';
    else if (issue.code === 'too_big' || issue.code === 'too_small') code = 'INVALID_STRING_LENGTH';
    else if (issue.code === 'invalid_value') code = 'INVALID_PARAMETER_VALUE';
    const detail: Detail = { field, issue: code, description: ISSUE_TEXT[code], location: 'body' };
    if (typeof given === 'string' && given.length <= 256) detail.value = given;
    return detail;
  });
}

/** PayPal's business rules for an amount; returns the 422 detail or the normalised value. */
function checkAmount(money: SimMoney, field: string): { detail: Detail } | { value: string } {
  const fail = (issue: Issue, at: string): { detail: Detail } => ({
    detail: { field: at, issue, description: ISSUE_TEXT[issue], value: money.value, location: 'body' },
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

function formatAmount(money: SimMoney): string {
  try {
    const formatted = new Intl.NumberFormat('en-US', { style: 'currency', currency: money.currency_code }).format(
      Number(money.value),
    );
    return `${formatted} ${money.currency_code}`;
  } catch {
    return `${money.value} ${money.currency_code}`;
  }
}

const PAGE_STYLE = `
  :root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  body { margin: 0; background: #f5f7fa; color: #1a1a1a; }
  header { background: #003087; color: #fff; padding: 14px 24px; font-weight: 600; letter-spacing: .2px; }
  header span { color: #9cc3ff; font-weight: 400; }
  main { max-width: 440px; margin: 40px auto; background: #fff; border-radius: 12px; padding: 28px;
         box-shadow: 0 2px 12px rgba(0,0,0,.08); }
  h1 { font-size: 1.25rem; margin: 0 0 4px; }
  .amount { font-size: 2rem; font-weight: 700; margin: 8px 0 20px; }
  .notice { background: #fff8e1; border: 1px solid #ffe08a; border-radius: 8px; padding: 8px 12px; font-size: .85rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; margin: 0 0 24px; font-size: .95rem; }
  dt { color: #5f6b7a; }
  dd { margin: 0; overflow-wrap: anywhere; }
  form { margin: 0 0 10px; }
  button { width: 100%; border: 0; border-radius: 24px; padding: 12px; font-size: 1rem; font-weight: 600; cursor: pointer; }
  .approve { background: #ffc439; color: #111; }
  .approve:hover { background: #f2ba36; }
  .cancel { background: #fff; color: #0070ba; border: 1px solid #0070ba; }
  a { color: #0070ba; }
`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} · PayPal Sandbox Simulator</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<header>PayPal <span>Sandbox Simulator</span></header>
<main>
${body}
</main>
</body>
</html>`;
}

export function createPayPalSimulator(opts: PayPalSimulatorOptions): PayPalSimulator {
  const publicUrl = opts.publicUrl.replace(/\/+$/, '');
  // Forms post to a path (not an absolute URL) so the page works under whatever host the browser used.
  const formBase = new URL(publicUrl).pathname.replace(/\/+$/, '');
  const clientId = opts.clientId ?? SIMULATOR_CLIENT_ID;
  const clientSecret = opts.clientSecret ?? SIMULATOR_CLIENT_SECRET;
  const merchantName = opts.merchantName ?? 'Boxoffice';
  const merchant = { email_address: 'merchant@boxoffice.example', merchant_id: 'SIMMERCHANT01' };
  const tokenTtlSeconds = opts.tokenTtlSeconds ?? 32_400;
  const idempotencyTtlMs = (opts.idempotencyTtlSeconds ?? 6 * 3600) * 1000;
  const clock = opts.clock ?? systemClock;
  const nowMs = () => clock.now().getTime();
  const nowIso = () =>
    clock
      .now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');

  const tokens = new Map<string, number>();
  const orders = new Map<string, SimOrder>();
  const captures = new Map<string, SimCapture>();
  const refunds = new Map<string, SimRefund>();
  const createdByRequestId = new Map<string, { orderId: string; expiresAt: number }>();
  const storedResponses = new Map<string, StoredResponse>();
  const faults = new Map<SimOperation, Fault[]>();
  const captureBehaviours: SimCaptureBehaviour[] = [];
  let opCounts = zeroCounts();
  let requests: SimRequest[] = [];

  function zeroCounts(): Record<SimOperation, number> {
    return Object.fromEntries(SIM_OPERATIONS.map((op) => [op, 0])) as Record<SimOperation, number>;
  }

  const link = (href: string, rel: string, method: 'GET' | 'POST' | 'PATCH') => ({ href, rel, method });
  const orderUrl = (id: string) => `${publicUrl}/v2/checkout/orders/${id}`;
  const approveUrl = (id: string) => `${publicUrl}/checkoutnow?token=${id}`;

  function orderLinks(order: SimOrder) {
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

  function payerJson(payer: SimPayer) {
    return {
      name: { given_name: payer.givenName, surname: payer.surname },
      email_address: payer.email,
      payer_id: payer.payerId,
      address: { country_code: payer.countryCode },
    };
  }

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
  function orderJson(order: SimOrder, view: 'full' | 'minimal-create' | 'minimal-capture') {
    const payments = order.captures.length ? { payments: { captures: order.captures.map(captureJson) } } : {};
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

  function paypalError(c: Context, status: number, details: Detail[] = [], extraLinks: object[] = []) {
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

  const issue = (c: Context, status: number, code: Issue, extra: Partial<Detail> = {}, links: object[] = []) =>
    paypalError(c, status, [{ issue: code, description: ISSUE_TEXT[code], ...extra }], links);

  const notFound = (c: Context, id: string) =>
    issue(c, 404, 'INVALID_RESOURCE_ID', { field: '/id', value: id, location: 'path' });

  /** Reads a JSON body; an empty body counts as `{}` (PayPal accepts that for capture and refund). */
  async function readJson(c: Context): Promise<{ ok: true; body: unknown } | { ok: false; response: Response }> {
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

  function wantsRepresentation(c: Context): boolean {
    return /return=representation/i.test(c.req.header('prefer') ?? '');
  }

  function requestIdOf(c: Context): string | null {
    const value = c.req.header('paypal-request-id')?.trim();
    return value ? value : null;
  }

  function takeStored(key: string): StoredResponse | undefined {
    const stored = storedResponses.get(key);
    if (stored && stored.expiresAt <= nowMs()) {
      storedResponses.delete(key);
      return undefined;
    }
    return stored;
  }

  /** PayPal-Request-Id on a POST to one resource: a repeat within the window answers what the first did. */
  function idempotent(c: Context, scope: string, id: string) {
    const requestId = requestIdOf(c);
    const key = requestId ? `${scope}:${id}:${requestId}` : null;
    return {
      replay: key ? takeStored(key) : undefined,
      remember: (body: object) => {
        if (key) storedResponses.set(key, { status: 201, body, expiresAt: nowMs() + idempotencyTtlMs });
      },
    };
  }

  function bearerFailure(c: Context): Response | null {
    const match = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
    if (!match?.[1]) return paypalError(c, 401);
    const expiresAt = tokens.get(match[1]);
    if (expiresAt === undefined || expiresAt <= nowMs()) {
      return c.json({ error: 'invalid_token', error_description: 'Access Token not found in cache' }, 401);
    }
    return null;
  }

  function simulatedPayer(overrides: Partial<SimPayer> = {}): SimPayer {
    return {
      payerId: randomId(13),
      email: 'sb-buyer@personal.example.com',
      givenName: 'Sandbox',
      surname: 'Buyer',
      countryCode: 'US',
      ...overrides,
    };
  }

  function approveOrder(order: SimOrder, payer?: Partial<SimPayer>): 'approved' | 'already' | 'closed' {
    if (order.status === 'APPROVED') return 'already';
    if (order.status !== 'CREATED' && order.status !== 'PAYER_ACTION_REQUIRED') return 'closed';
    order.status = 'APPROVED';
    order.payer = simulatedPayer(payer);
    order.updateTime = nowIso();
    return 'approved';
  }

  function takeCaptureBehaviour(orderId: string): SimCaptureBehaviour {
    const index = captureBehaviours.findIndex((b) => b.orderId === undefined || b.orderId === orderId);
    if (index === -1) return {};
    return captureBehaviours.splice(index, 1)[0] ?? {};
  }

  function paidInvoiceElsewhere(order: SimOrder): boolean {
    if (order.invoiceId === null) return false;
    for (const other of orders.values()) {
      if (other.id === order.id || other.invoiceId !== order.invoiceId) continue;
      if (other.captures.some((capture) => capture.status !== 'DECLINED')) return true;
    }
    return false;
  }

  type Handler = (c: Context<SimEnv>) => Response | Promise<Response>;
  const pathId = (c: Context) => c.req.param('id') ?? '';

  /** Counts the call, applies any queued fault, checks the Bearer token, then runs the handler. */
  const operation =
    (op: SimOperation, needsToken: boolean, handler: Handler): Handler =>
    async (c) => {
      opCounts[op] += 1;
      c.get('simRequest').operation = op;
      const fault = faults.get(op)?.shift();
      const applyFault = async (): Promise<Response | null> => {
        if (!fault) return null;
        if (fault.kind === 'hang') {
          await sleep(fault.ms);
          return null;
        }
        return paypalError(c, fault.status);
      };
      if (fault?.when === 'before') {
        const early = await applyFault();
        if (early) return early;
      }
      const response = (needsToken ? bearerFailure(c) : null) ?? (await handler(c));
      if (fault?.when === 'after') {
        const late = await applyFault();
        if (late) return late;
      }
      return response;
    };

  const app = new Hono<SimEnv>();

  app.use('*', async (c, next) => {
    const url = new URL(c.req.url);
    const body =
      c.req.method === 'GET' || c.req.method === 'HEAD'
        ? ''
        : (await c.req.raw.clone().text()).slice(0, MAX_RECORDED_BODY);
    const entry: SimRequest = {
      operation: null,
      method: c.req.method,
      url: url.pathname + url.search,
      requestId: requestIdOf(c),
      body,
      status: 0,
    };
    // bounded: the offline server keeps one simulator for its whole life
    if (requests.length >= MAX_RECORDED_REQUESTS) requests.splice(0, requests.length - MAX_RECORDED_REQUESTS + 1);
    requests.push(entry);
    c.set('simRequest', entry);
    await next();
    entry.status = c.res.status;
  });

  app.post(
    '/v1/oauth2/token',
    operation('token', false, async (c) => {
      const match = /^Basic\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
      const decoded = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
      const colon = decoded.indexOf(':');
      const givenId = colon === -1 ? '' : decoded.slice(0, colon);
      const givenSecret = colon === -1 ? '' : decoded.slice(colon + 1);
      if (!sameSecret(givenId, clientId) || !sameSecret(givenSecret, clientSecret)) {
        return c.json({ error: 'invalid_client', error_description: 'Client Authentication failed' }, 401);
      }
      const form = new URLSearchParams(await c.req.text());
      const grant = form.get('grant_type');
      if (grant !== 'client_credentials') {
        return c.json(
          {
            error: 'unsupported_grant_type',
            error_description: grant ? 'Grant Type is not supported' : 'Grant Type is NULL',
          },
          400,
        );
      }
      const accessToken = `A21AA${randomBytes(48).toString('base64url')}`;
      for (const [issued, expiresAt] of tokens) if (expiresAt <= nowMs()) tokens.delete(issued);
      tokens.set(accessToken, nowMs() + tokenTtlSeconds * 1000);
      return c.json({
        scope: 'https://uri.paypal.com/services/payments/payment https://uri.paypal.com/services/payments/refund',
        access_token: accessToken,
        token_type: 'Bearer',
        app_id: 'APP-80W284485P519543T',
        expires_in: tokenTtlSeconds,
        nonce: `${nowIso()}${randomBytes(16).toString('base64url')}`,
      });
    }),
  );

  app.post(
    '/v2/checkout/orders',
    operation('createOrder', true, async (c) => {
      const read = await readJson(c);
      if (!read.ok) return read.response;
      const view = wantsRepresentation(c) ? 'full' : 'minimal-create';
      // No await from here on: a concurrent retry with the same PayPal-Request-Id must see this order.
      const requestId = requestIdOf(c);
      const prior = requestId ? createdByRequestId.get(requestId) : undefined;
      const priorOrder = prior && prior.expiresAt > nowMs() ? orders.get(prior.orderId) : undefined;
      if (priorOrder) return c.json(orderJson(priorOrder, view), 200);

      const parsed = CreateOrderBody.safeParse(read.body);
      if (!parsed.success) return paypalError(c, 400, schemaDetails(parsed.error, read.body));
      const input = parsed.data;
      if (input.intent !== 'CAPTURE')
        return issue(c, 422, 'UNSUPPORTED_INTENT', { field: '/intent', value: input.intent });
      const unit = input.purchase_units[0];
      if (!unit) return paypalError(c, 400);
      const checked = checkAmount(unit.amount, '/purchase_units/0/amount');
      if ('detail' in checked) return paypalError(c, 422, [checked.detail]);

      const experience = input.payment_source?.paypal.experience_context ?? input.application_context ?? {};
      const time = nowIso();
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
      orders.set(order.id, order);
      if (requestId) createdByRequestId.set(requestId, { orderId: order.id, expiresAt: nowMs() + idempotencyTtlMs });
      return c.json(orderJson(order, view), 201);
    }),
  );

  app.get(
    '/v2/checkout/orders/:id',
    operation('getOrder', true, (c) => {
      const order = orders.get(pathId(c));
      return order ? c.json(orderJson(order, 'full')) : notFound(c, pathId(c));
    }),
  );

  app.post(
    '/v2/checkout/orders/:id/capture',
    operation('captureOrder', true, async (c) => {
      const id = pathId(c);
      const read = await readJson(c);
      if (!read.ok) return read.response;
      const order = orders.get(id);
      if (!order) return notFound(c, id);
      const once = idempotent(c, 'capture', id);
      if (once.replay) return c.json(once.replay.body as object, once.replay.status);

      if (order.status === 'COMPLETED') return issue(c, 422, 'ORDER_ALREADY_CAPTURED');
      if (order.status === 'VOIDED') return issue(c, 422, 'ORDER_COMPLETED_OR_VOIDED');
      if (order.status !== 'APPROVED') return issue(c, 422, 'ORDER_NOT_APPROVED');
      if (!opts.allowDuplicateInvoiceId && paidInvoiceElsewhere(order)) return issue(c, 422, 'DUPLICATE_INVOICE_ID');

      const behaviour = takeCaptureBehaviour(id);
      if (behaviour.instrumentDeclined) {
        return issue(c, 422, 'INSTRUMENT_DECLINED', {}, [link(approveUrl(order.id), 'redirect', 'GET')]);
      }
      const time = nowIso();
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
      order.captures.push(capture);
      captures.set(capture.id, capture);
      order.status = 'COMPLETED';
      order.updateTime = time;
      const body = orderJson(order, wantsRepresentation(c) ? 'full' : 'minimal-capture');
      once.remember(body);
      return c.json(body, 201);
    }),
  );

  app.get(
    '/v2/payments/captures/:id',
    operation('getCapture', true, (c) => {
      const capture = captures.get(pathId(c));
      return capture ? c.json(captureJson(capture)) : notFound(c, pathId(c));
    }),
  );

  app.post(
    '/v2/payments/captures/:id/refund',
    operation('refundCapture', true, async (c) => {
      const id = pathId(c);
      const read = await readJson(c);
      if (!read.ok) return read.response;
      const capture = captures.get(id);
      if (!capture) return notFound(c, id);
      const once = idempotent(c, 'refund', id);
      if (once.replay) return c.json(once.replay.body as object, once.replay.status);

      const parsed = RefundBody.safeParse(read.body);
      if (!parsed.success) return paypalError(c, 400, schemaDetails(parsed.error, read.body));
      if (capture.status === 'REFUNDED') return issue(c, 422, 'CAPTURE_FULLY_REFUNDED');
      if (capture.status === 'PENDING') return issue(c, 422, 'PENDING_CAPTURE');
      if (capture.status === 'DECLINED') return issue(c, 422, 'REFUND_NOT_ALLOWED');

      const currency = capture.amount.currency_code;
      const refunded = capture.refunds.reduce((sum, refund) => sum + payPalToMinor(refund.amount.value, currency), 0);
      const remaining = payPalToMinor(capture.amount.value, currency) - refunded;
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
      const time = nowIso();
      const refund: SimRefund = {
        id: randomId(17),
        captureId: capture.id,
        status: 'COMPLETED',
        amount: { currency_code: currency, value: minorToPayPal(amountMinor, currency) },
        noteToPayer: parsed.data.note_to_payer ?? null,
        createTime: time,
      };
      capture.refunds.push(refund);
      refunds.set(refund.id, refund);
      capture.status = amountMinor === remaining ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
      capture.updateTime = time;
      const body = refundJson(refund, wantsRepresentation(c));
      once.remember(body);
      return c.json(body, 201);
    }),
  );

  app.get(
    '/v2/payments/refunds/:id',
    operation('getRefund', true, (c) => {
      const refund = refunds.get(pathId(c));
      return refund ? c.json(refundJson(refund, true)) : notFound(c, pathId(c));
    }),
  );

  function htmlPage(c: Context, status: number, title: string, body: string) {
    c.header('Cache-Control', 'no-store');
    c.header('Referrer-Policy', 'no-referrer');
    c.header(
      'Content-Security-Policy',
      "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    );
    return c.html(page(title, body), status as ContentfulStatusCode);
  }

  const messagePage = (c: Context, status: number, title: string, message: string, back?: string) =>
    htmlPage(
      c,
      status,
      title,
      `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(message)}</p>
${back ? `<p><a href="${escapeHtml(back)}">Return to ${escapeHtml(merchantName)}</a></p>` : ''}`,
    );

  const returnLocation = (order: SimOrder) =>
    order.returnUrl && order.payer
      ? appendQuery(order.returnUrl, { token: order.id, PayerID: order.payer.payerId })
      : undefined;

  app.get('/checkoutnow', (c) => {
    const token = c.req.query('token') ?? '';
    const order = orders.get(token);
    if (!order) {
      return messagePage(c, 404, 'Checkout not found', 'This checkout session has expired or does not exist.');
    }
    const shop = order.brandName ?? merchantName;
    if (order.status === 'APPROVED') {
      return messagePage(
        c,
        200,
        'Payment approved',
        `You already approved this payment to ${shop}.`,
        returnLocation(order),
      );
    }
    if (order.status === 'COMPLETED') {
      return messagePage(
        c,
        200,
        'Payment complete',
        `This payment to ${shop} is complete.`,
        order.returnUrl ?? undefined,
      );
    }
    if (order.status === 'VOIDED') {
      return messagePage(c, 410, 'Checkout closed', 'This order was voided and can no longer be paid.');
    }
    const rows = [
      ['Merchant', shop],
      ...(order.description ? [['Description', order.description]] : []),
      ['Amount', formatAmount(order.amount)],
      ['Order', order.id],
      ['Paying as', 'sb-buyer@personal.example.com (simulated)'],
    ];
    const hidden = `<input type="hidden" name="token" value="${escapeHtml(order.id)}">`;
    return htmlPage(
      c,
      200,
      `Pay ${shop}`,
      `<p class="notice">Simulated checkout: no real money moves.</p>
<h1>Pay ${escapeHtml(shop)}</h1>
<p class="amount">${escapeHtml(formatAmount(order.amount))}</p>
<dl>
${rows.map(([term, value]) => `<dt>${escapeHtml(term ?? '')}</dt><dd>${escapeHtml(value ?? '')}</dd>`).join('\n')}
</dl>
<form method="post" action="${escapeHtml(`${formBase}/checkoutnow/approve`)}">${hidden}<button class="approve" type="submit">Approve</button></form>
<form method="post" action="${escapeHtml(`${formBase}/checkoutnow/cancel`)}">${hidden}<button class="cancel" type="submit">Cancel</button></form>`,
    );
  });

  async function formToken(c: Context): Promise<string> {
    const form = await c.req.parseBody();
    return typeof form.token === 'string' ? form.token : '';
  }

  app.post('/checkoutnow/approve', async (c) => {
    const order = orders.get(await formToken(c));
    if (!order)
      return messagePage(c, 404, 'Checkout not found', 'This checkout session has expired or does not exist.');
    if (approveOrder(order) === 'closed') {
      return messagePage(
        c,
        409,
        'Checkout closed',
        `This order is ${order.status.toLowerCase()} and cannot be approved.`,
      );
    }
    const location = returnLocation(order);
    if (!location) return messagePage(c, 200, 'Payment approved', 'You can close this window.');
    return c.redirect(location, 303);
  });

  app.post('/checkoutnow/cancel', async (c) => {
    const order = orders.get(await formToken(c));
    if (!order)
      return messagePage(c, 404, 'Checkout not found', 'This checkout session has expired or does not exist.');
    order.cancelCount += 1;
    if (!order.cancelUrl) return messagePage(c, 200, 'Payment cancelled', 'You cancelled this payment.');
    return c.redirect(appendQuery(order.cancelUrl, { token: order.id }), 303);
  });

  function requireOrder(orderId: string): SimOrder {
    const order = orders.get(orderId);
    if (!order) throw new Error(`PayPal simulator: no order ${orderId}`);
    return order;
  }

  const snapshot = <T>(value: T): T => structuredClone(value);

  const controls: PayPalSimulatorControls = {
    failNext(op, { times = 1, status = 500, when = 'before' } = {}) {
      const queue = faults.get(op) ?? [];
      for (let i = 0; i < times; i += 1) queue.push({ kind: 'fail', status, when });
      faults.set(op, queue);
    },
    hangNext(op, { ms, times = 1, when = 'after' }) {
      const queue = faults.get(op) ?? [];
      for (let i = 0; i < times; i += 1) queue.push({ kind: 'hang', ms, when });
      faults.set(op, queue);
    },
    queueCapture(behaviour) {
      captureBehaviours.push({ ...behaviour });
    },
    approve(orderId, payer) {
      const order = requireOrder(orderId);
      if (approveOrder(order, payer) === 'closed') {
        throw new Error(`PayPal simulator: order ${orderId} is ${order.status} and cannot be approved`);
      }
      return snapshot(order);
    },
    voidOrder(orderId) {
      const order = requireOrder(orderId);
      order.status = 'VOIDED';
      order.updateTime = nowIso();
      return snapshot(order);
    },
    expireOrder(orderId) {
      orders.delete(orderId);
    },
    settleCapture(captureId, status) {
      const capture = captures.get(captureId);
      if (!capture) throw new Error(`PayPal simulator: no capture ${captureId}`);
      capture.status = status;
      capture.updateTime = nowIso();
      return snapshot(capture);
    },
    revokeTokens() {
      tokens.clear();
    },
    orders: () => snapshot([...orders.values()]),
    order: (orderId) => {
      const order = orders.get(orderId);
      return order ? snapshot(order) : undefined;
    },
    capture: (captureId) => {
      const capture = captures.get(captureId);
      return capture ? snapshot(capture) : undefined;
    },
    captureCount: (orderId) => orders.get(orderId)?.captures.length ?? 0,
    counts: () => ({ ...opCounts }),
    requests: () => snapshot(requests),
    reset() {
      orders.clear();
      captures.clear();
      refunds.clear();
      createdByRequestId.clear();
      storedResponses.clear();
      faults.clear();
      captureBehaviours.length = 0;
      opCounts = zeroCounts();
      requests = [];
    },
  };

  if (opts.exposeControls) mountControlRoutes(app, controls);

  app.notFound((c) => paypalError(c, 404));
  app.onError((_error, c) => paypalError(c, 500));
  return { app, controls };
}

const Operation = z.enum(SIM_OPERATIONS);
const When = z.enum(['before', 'after']).optional();
const Times = z.number().int().min(1).max(100).optional();
const ControlBodies = {
  fail: z.object({
    operation: Operation,
    times: Times,
    status: z.number().int().min(400).max(599).optional(),
    when: When,
  }),
  hang: z.object({ operation: Operation, ms: z.number().int().min(1).max(120_000), times: Times, when: When }),
  capture: z.object({
    orderId: z.string().optional(),
    status: z.enum(['COMPLETED', 'PENDING', 'DECLINED']).optional(),
    instrumentDeclined: z.boolean().optional(),
    amountValue: z.string().optional(),
    currency: z.string().optional(),
    customId: z.string().optional(),
  }),
};

/** HTTP mirror of the controls, for tests that drive a simulator living in another process. */
function mountControlRoutes(app: Hono<SimEnv>, controls: PayPalSimulatorControls) {
  const body = async <T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T> | null> => {
    const parsed = schema.safeParse(await c.req.json().catch(() => undefined));
    return parsed.success ? parsed.data : null;
  };
  const invalid = (c: Context) => c.json({ error: 'invalid control request' }, 400);
  app.post('/__sim/fail', async (c) => {
    const input = await body(c, ControlBodies.fail);
    if (!input) return invalid(c);
    controls.failNext(input.operation, input);
    return c.body(null, 204);
  });
  app.post('/__sim/hang', async (c) => {
    const input = await body(c, ControlBodies.hang);
    if (!input) return invalid(c);
    controls.hangNext(input.operation, input);
    return c.body(null, 204);
  });
  app.post('/__sim/capture', async (c) => {
    const input = await body(c, ControlBodies.capture);
    if (!input) return invalid(c);
    controls.queueCapture(input);
    return c.body(null, 204);
  });
  app.post('/__sim/orders/:id/approve', (c) => {
    const id = c.req.param('id');
    if (!controls.order(id)) return c.json({ error: 'no such order' }, 404);
    try {
      return c.json(controls.approve(id));
    } catch (error) {
      return c.json({ error: (error as Error).message }, 409);
    }
  });
  app.post('/__sim/reset', (c) => {
    controls.reset();
    return c.body(null, 204);
  });
  app.get('/__sim/orders', (c) => c.json({ orders: controls.orders(), counts: controls.counts() }));
}

export type ListeningPayPalSimulator = PayPalSimulator & {
  /** e.g. http://127.0.0.1:41234 */
  origin: string;
  /** Where the API lives: origin plus mount path; give this to the gateway as baseUrl. */
  baseUrl: string;
  close(): Promise<void>;
};

/**
 * Runs a simulator on its own HTTP listener (port 0 picks a free one), mounted under `mountPath`
 * like the main server does, so tests and local tools reach it over real sockets.
 */
export async function listenPayPalSimulator(
  opts: Omit<PayPalSimulatorOptions, 'publicUrl'> & { hostname?: string; port?: number; mountPath?: string } = {},
): Promise<ListeningPayPalSimulator> {
  const { hostname = '127.0.0.1', port = 0, mountPath = SIMULATOR_MOUNT_PATH, ...simOptions } = opts;
  // The simulator must know its public URL before it exists, and the URL needs the port: bind first.
  let handle: (request: Request) => Response | Promise<Response> = () => new Response(null, { status: 503 });
  const server = serve({ fetch: (request) => handle(request), port, hostname }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const origin = `http://${hostname}:${(server.address() as AddressInfo).port}`;
  const baseUrl = `${origin}${mountPath}`;
  const simulator = createPayPalSimulator({ ...simOptions, publicUrl: baseUrl });
  if (mountPath) {
    const host = new Hono();
    host.route(mountPath, simulator.app);
    handle = host.fetch;
  } else {
    handle = simulator.app.fetch;
  }
  return {
    ...simulator,
    origin,
    baseUrl,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
