import { DomainError } from '@boxoffice/contracts';
import {
  ApiError,
  type ApiResponse,
  CheckoutPaymentIntent,
  Client,
  Environment,
  OrdersController,
  PaymentsController,
  PaypalExperienceUserAction,
  PaypalWalletContextShippingPreference,
} from '@paypal/paypal-server-sdk';
import axios, { type AxiosAdapter } from 'axios';
import { z } from 'zod';
import type { Logger } from '../../logger.ts';
import { minorToPayPal, payPalToMinor } from './money.ts';

/**
 * Boxoffice's only door to PayPal Orders v2. It wraps the official SDK with what the SDK lacks:
 * a base-URL override (for the simulator), bounded retries that reuse the PayPal-Request-Id,
 * zod validation of every answer, and one error type the booking code can switch on.
 * Nothing it returns or logs contains SDK types, the access token or the client secret.
 */

export type PayPalOperation =
  | 'createOrder'
  | 'getOrder'
  | 'captureOrder'
  | 'refundCapture'
  | 'getCapture'
  | 'getRefund';

export type PayPalErrorKind =
  /** 422 ORDER_ALREADY_CAPTURED: fetch the order and reconcile. */
  | 'already_captured'
  /** 422 ORDER_NOT_APPROVED: the buyer has not approved (the return visit proves nothing). */
  | 'not_approved'
  /** The buyer's funding was declined (INSTRUMENT_DECLINED and kin). */
  | 'declined'
  /** 404: no such order or capture (random id, or an expired unapproved order). */
  | 'not_found'
  /** Timeouts, network failures, 5xx, bad credentials, malformed answers: try again later. */
  | 'unavailable'
  /** Any other refusal (400/422 with an issue such as REFUND_AMOUNT_EXCEEDED or DUPLICATE_INVOICE_ID). */
  | 'rejected';

/**
 * A PayPal call that did not succeed. It is a DomainError (PAYMENT_PROVIDER_ERROR, 502), so one that
 * is not handled still answers a clean error instead of a 500.
 */
export class PayPalError extends DomainError {
  readonly kind: PayPalErrorKind;
  readonly operation: PayPalOperation;
  /** PayPal's `details[0].issue`, e.g. ORDER_ALREADY_CAPTURED; null when PayPal gave none. */
  readonly issue: string | null;
  /** PayPal's HTTP status; null when no answer arrived. */
  readonly httpStatus: number | null;
  /** PayPal's debug_id, for support tickets. */
  readonly debugId: string | null;

  constructor(init: {
    kind: PayPalErrorKind;
    operation: PayPalOperation;
    message: string;
    issue?: string | null;
    httpStatus?: number | null;
    debugId?: string | null;
  }) {
    super('PAYMENT_PROVIDER_ERROR', init.message, { kind: init.kind, issue: init.issue ?? null });
    this.name = 'PayPalError';
    this.kind = init.kind;
    this.operation = init.operation;
    this.issue = init.issue ?? null;
    this.httpStatus = init.httpStatus ?? null;
    this.debugId = init.debugId ?? null;
  }
}

/** The failure kind of anything thrown by the gateway; null for errors that did not come from it. */
export function payPalFailureKind(error: unknown): PayPalErrorKind | null {
  return error instanceof PayPalError ? error.kind : null;
}

export const PAYPAL_ORDER_STATUSES = [
  'CREATED',
  'SAVED',
  'APPROVED',
  'VOIDED',
  'COMPLETED',
  'PAYER_ACTION_REQUIRED',
] as const;
export type PayPalOrderStatus = (typeof PAYPAL_ORDER_STATUSES)[number];

export const PAYPAL_CAPTURE_STATUSES = [
  'COMPLETED',
  'DECLINED',
  'PARTIALLY_REFUNDED',
  'PENDING',
  'REFUNDED',
  'FAILED',
] as const;
export type PayPalCaptureStatus = (typeof PAYPAL_CAPTURE_STATUSES)[number];

export const PAYPAL_REFUND_STATUSES = ['CANCELLED', 'FAILED', 'PENDING', 'COMPLETED'] as const;
export type PayPalRefundStatus = (typeof PAYPAL_REFUND_STATUSES)[number];

export type PayPalCaptureView = {
  id: string;
  status: PayPalCaptureStatus;
  amountMinor: number;
  currency: string;
  customId: string | null;
  invoiceId: string | null;
};

/** An order as PayPal reports it, with amounts in minor units. The caller checks it against the booking. */
export type PayPalOrderView = {
  id: string;
  status: PayPalOrderStatus;
  customId: string | null;
  invoiceId: string | null;
  amountMinor: number;
  currency: string;
  payerId: string | null;
  captures: PayPalCaptureView[];
  /** Refunds of its captures, as far as PayPal lists them with the order. */
  refunds: PayPalRefundView[];
};

/** A capture read on its own, with the order it belongs to. */
export type PayPalCaptureDetail = PayPalCaptureView & { orderId: string | null };

export type CreatePayPalOrderInput = {
  bookingId: string;
  amountMinor: number;
  currency: string;
  description: string;
  returnUrl: string;
  cancelUrl: string;
};

export type CreatedPayPalOrder = { orderId: string; approveUrl: string; status: PayPalOrderStatus };

export type PayPalRefundView = {
  refundId: string;
  status: PayPalRefundStatus;
  amountMinor: number;
  currency: string;
  /** The capture it refunds (from its `up` link); null when PayPal did not say. */
  captureId: string | null;
};

export type PayPalGateway = {
  createOrder(input: CreatePayPalOrderInput): Promise<CreatedPayPalOrder>;
  getOrder(orderId: string): Promise<PayPalOrderView>;
  captureOrder(input: { orderId: string; bookingId: string }): Promise<PayPalOrderView>;
  refundCapture(input: {
    captureId: string;
    bookingId: string;
    amountMinor?: number;
    currency: string;
    /** PayPal-Request-Id; default `refund:<booking>`. A refund that failed outright is retried under a new one. */
    requestId?: string;
  }): Promise<PayPalRefundView>;
  getCapture(captureId: string): Promise<PayPalCaptureDetail>;
  getRefund(refundId: string): Promise<PayPalRefundView>;
};

export type PayPalGatewayOptions = {
  clientId: string;
  clientSecret: string;
  environment: 'sandbox' | 'live';
  /** Sends every call here instead of PayPal's host, keeping the path (simulator, proxies, mocks). */
  baseUrl?: string;
  /** Per attempt, for the token call too. */
  timeoutMs: number;
  /** Extra attempts after a timeout, network error, 429 or 5xx; each reuses the PayPal-Request-Id. */
  maxRetries: number;
  /** First backoff delay; doubles per retry (default 200 ms). */
  retryDelayMs?: number;
  /** Backoff ceiling (default 2000 ms). */
  maxRetryDelayMs?: number;
  log?: Pick<Logger, 'warn' | 'info'>;
  /** Told about every round trip to PayPal (retries included): `ok` or the failure kind, and its duration. */
  observeCall?: (call: { operation: PayPalOperation; result: 'ok' | PayPalErrorKind; seconds: number }) => void;
};

const DECLINE_ISSUES = new Set([
  'INSTRUMENT_DECLINED',
  'TRANSACTION_REFUSED',
  'PAYER_CANNOT_PAY',
  'PAYEE_BLOCKED_TRANSACTION',
  'DECLINED_DUE_TO_RELATED_TXN',
  'REDIRECT_PAYER_FOR_ALTERNATE_FUNDING',
  'CARD_EXPIRED',
  'MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED',
]);

const PAYPAL_DESCRIPTION_MAX = 127;
const ID = z.string().regex(/^[A-Za-z0-9-]{1,64}$/);
const WireMoney = z.object({
  currency_code: z.string().regex(/^[A-Z]{3}$/),
  value: z.string().regex(/^\d{1,20}(\.\d{1,20})?$/),
});
const WireLink = z.object({ href: z.string(), rel: z.string(), method: z.string().optional() });
const WireCapture = z.object({
  id: ID,
  status: z.enum(PAYPAL_CAPTURE_STATUSES),
  amount: WireMoney,
  custom_id: z.string().optional(),
  invoice_id: z.string().optional(),
  supplementary_data: z.object({ related_ids: z.object({ order_id: z.string().optional() }).optional() }).optional(),
});
const WireRefund = z.object({
  id: ID,
  status: z.enum(PAYPAL_REFUND_STATUSES),
  amount: WireMoney,
  links: z.array(WireLink).optional(),
});
const WireOrder = z.object({
  id: ID,
  status: z.enum(PAYPAL_ORDER_STATUSES),
  purchase_units: z
    .array(
      z.object({
        amount: WireMoney,
        custom_id: z.string().optional(),
        invoice_id: z.string().optional(),
        payments: z
          .object({ captures: z.array(WireCapture).optional(), refunds: z.array(WireRefund).optional() })
          .optional(),
      }),
    )
    .min(1),
  payer: z.object({ payer_id: z.string().optional() }).optional(),
});
const WireCreatedOrder = z.object({ id: ID, status: z.enum(PAYPAL_ORDER_STATUSES), links: z.array(WireLink) });
const WireError = z.object({
  name: z.string().optional(),
  debug_id: z.string().optional(),
  details: z.array(z.object({ issue: z.string() })).optional(),
  error: z.string().optional(),
});

type Sdk = { orders: OrdersController; payments: PaymentsController };
type Failure = {
  error: PayPalError;
  retryable: boolean;
  reauthenticate: boolean;
  resetClient: boolean;
  reason: string;
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The SDK has fixed PayPal hosts; this axios adapter keeps path and query and swaps the origin. */
function rebaseAdapter(baseUrl: string): AxiosAdapter {
  const http = axios.getAdapter('http');
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  return (config) => {
    const original = new URL(config.url ?? '', config.baseURL);
    const target = new URL(base.origin);
    target.pathname = `${prefix}${original.pathname}`;
    target.search = original.search;
    return http({ ...config, baseURL: undefined, url: target.toString() });
  };
}

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function kindForIssue(issue: string | null): PayPalErrorKind {
  if (issue === 'ORDER_ALREADY_CAPTURED') return 'already_captured';
  if (issue === 'ORDER_NOT_APPROVED') return 'not_approved';
  if (issue && DECLINE_ISSUES.has(issue)) return 'declined';
  return 'rejected';
}

function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, max).join('');
}

export function createPayPalGateway(options: PayPalGatewayOptions): PayPalGateway {
  const { log } = options;
  const retryDelayMs = options.retryDelayMs ?? 200;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 2000;
  // Real PayPal hands out https approval links only; an override (simulator, test double) may use http.
  const approveProtocols = options.baseUrl ? ['https:', 'http:'] : ['https:'];

  function buildSdk(): Sdk {
    const client = new Client({
      clientCredentialsAuthCredentials: {
        oAuthClientId: options.clientId,
        oAuthClientSecret: options.clientSecret,
        // refresh a minute early so a token never expires between the check and PayPal's
        oAuthClockSkew: 60,
      },
      environment: options.environment === 'live' ? Environment.Production : Environment.Sandbox,
      timeout: options.timeoutMs,
      httpClientOptions: { timeout: options.timeoutMs, retryConfig: { maxNumberOfRetries: 0 } },
      unstable_httpClientOptions: {
        // PayPal's API never redirects; following one would resend the bearer token elsewhere
        maxRedirects: 0,
        maxContentLength: 2_000_000,
        ...(options.baseUrl ? { adapter: rebaseAdapter(options.baseUrl) } : {}),
      },
    });
    return { orders: new OrdersController(client), payments: new PaymentsController(client) };
  }

  // The SDK caches its token in a promise; once a token fetch fails that promise stays rejected
  // and every later call fails too, so a failed fetch (or a revoked token) means a fresh client.
  let sdk = buildSdk();
  const replaceSdk = (broken: Sdk) => {
    if (sdk === broken) sdk = buildSdk();
  };

  function classify(operation: PayPalOperation, error: unknown): Failure {
    const failure = (
      kind: PayPalErrorKind,
      message: string,
      extra: Partial<Omit<Failure, 'error'>> & { issue?: string | null; httpStatus?: number; debugId?: string | null },
    ): Failure => ({
      error: new PayPalError({
        kind,
        operation,
        message,
        issue: extra.issue ?? null,
        httpStatus: extra.httpStatus ?? null,
        debugId: extra.debugId ?? null,
      }),
      retryable: extra.retryable ?? false,
      reauthenticate: extra.reauthenticate ?? false,
      resetClient: extra.resetClient ?? false,
      reason: extra.reason ?? message,
    });

    if (error instanceof ApiError) {
      const status = error.statusCode;
      const body = WireError.safeParse(parseJson(error.body) ?? error.result);
      const wire = body.success ? body.data : {};
      const issue = wire.details?.[0]?.issue ?? null;
      const debugId = wire.debug_id ?? error.headers?.['paypal-debug-id'] ?? null;
      const common = { issue, httpStatus: status, debugId, reason: `HTTP ${status}${issue ? ` ${issue}` : ''}` };
      const transient = status === 408 || status === 429 || status >= 500;
      if (error.request?.url?.includes('/v1/oauth2/token')) {
        return failure(
          'unavailable',
          transient ? 'PayPal could not issue an access token' : 'PayPal rejected the API credentials',
          { ...common, issue: wire.error ?? issue, retryable: transient, resetClient: true },
        );
      }
      if (status === 401) {
        return failure('unavailable', 'PayPal rejected the access token', {
          ...common,
          reauthenticate: true,
          resetClient: true,
        });
      }
      if (transient)
        return failure('unavailable', `PayPal is unavailable (HTTP ${status})`, { ...common, retryable: true });
      if (status === 404) return failure('not_found', `PayPal ${operation}: resource not found`, common);
      if (status === 400 || status === 422) {
        const kind = kindForIssue(issue);
        return failure(kind, `PayPal ${operation} refused: ${issue ?? wire.name ?? `HTTP ${status}`}`, common);
      }
      if (status >= 400 && status < 500 && status !== 403) {
        return failure('rejected', `PayPal ${operation} refused: HTTP ${status}`, common);
      }
      return failure('unavailable', `PayPal ${operation} failed: HTTP ${status}`, common);
    }
    if (axios.isAxiosError(error)) {
      // Only the code is kept: the axios error carries the request config, headers included.
      const timedOut = error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT';
      const reason = timedOut ? 'timeout' : `network ${error.code ?? 'error'}`;
      return failure('unavailable', `PayPal is unreachable (${reason})`, {
        retryable: true,
        resetClient: true,
        reason,
      });
    }
    // SDK response validation errors, unparsable bodies, token-state errors: nothing safe to retry.
    return failure('unavailable', `PayPal ${operation} returned an unusable answer`, {
      resetClient: true,
      reason: error instanceof Error ? error.name : 'unknown',
    });
  }

  const malformed = (operation: PayPalOperation, what: string) =>
    new PayPalError({ kind: 'unavailable', operation, message: `PayPal ${operation} returned a malformed ${what}` });

  /** Runs one PayPal call with retries; returns the answer's parsed JSON body. */
  async function execute(
    operation: PayPalOperation,
    requestId: string | null,
    send: (sdk: Sdk) => Promise<ApiResponse<unknown>>,
  ): Promise<unknown> {
    let retries = 0;
    let reauthenticated = false;
    for (;;) {
      const current = sdk;
      let response: ApiResponse<unknown>;
      const started = performance.now();
      const observe = (result: 'ok' | PayPalErrorKind) =>
        options.observeCall?.({ operation, result, seconds: (performance.now() - started) / 1000 });
      try {
        response = await send(current);
      } catch (error) {
        const failure = classify(operation, error);
        observe(failure.error.kind);
        if (failure.resetClient) replaceSdk(current);
        if (failure.reauthenticate && !reauthenticated) {
          reauthenticated = true;
          continue;
        }
        if (failure.retryable && retries < options.maxRetries) {
          retries += 1;
          const base = Math.min(maxRetryDelayMs, retryDelayMs * 2 ** (retries - 1));
          const delayMs = Math.round(base / 2 + (Math.random() * base) / 2);
          log?.warn(
            { operation, requestId, retry: retries, reason: failure.reason, debugId: failure.error.debugId, delayMs },
            'PayPal call failed; retrying with the same PayPal-Request-Id',
          );
          await sleep(delayMs);
          continue;
        }
        const { kind, issue, debugId } = failure.error;
        const entry = { operation, requestId, kind, issue, reason: failure.reason, debugId, retries };
        if (kind === 'unavailable') log?.warn(entry, 'PayPal call failed');
        else log?.info(entry, 'PayPal refused the call');
        throw failure.error;
      }
      const body = parseJson(response.body);
      observe(body === undefined ? 'unavailable' : 'ok');
      if (body === undefined) throw malformed(operation, 'body');
      return body;
    }
  }

  function toMinor(operation: PayPalOperation, money: z.infer<typeof WireMoney>): number {
    try {
      return payPalToMinor(money.value, money.currency_code);
    } catch {
      throw malformed(operation, 'amount');
    }
  }

  function orderView(operation: PayPalOperation, body: unknown): PayPalOrderView {
    const parsed = WireOrder.safeParse(body);
    if (!parsed.success) throw malformed(operation, 'order');
    const order = parsed.data;
    // Boxoffice creates single-unit orders; a second unit would be something we did not ask for.
    const unit = order.purchase_units[0];
    if (!unit || order.purchase_units.length !== 1) throw malformed(operation, 'order');
    return {
      id: order.id,
      status: order.status,
      customId: unit.custom_id ?? null,
      invoiceId: unit.invoice_id ?? null,
      amountMinor: toMinor(operation, unit.amount),
      currency: unit.amount.currency_code,
      payerId: order.payer?.payer_id ?? null,
      captures: (unit.payments?.captures ?? []).map((capture) => captureView(operation, capture)),
      refunds: (unit.payments?.refunds ?? []).map((refund) => refundView(operation, refund)),
    };
  }

  function captureView(operation: PayPalOperation, capture: z.infer<typeof WireCapture>): PayPalCaptureView {
    return {
      id: capture.id,
      status: capture.status,
      amountMinor: toMinor(operation, capture.amount),
      currency: capture.amount.currency_code,
      customId: capture.custom_id ?? null,
      invoiceId: capture.invoice_id ?? null,
    };
  }

  function refundView(operation: PayPalOperation, refund: z.infer<typeof WireRefund>): PayPalRefundView {
    // PayPal names the refunded capture only in the refund's `up` link
    const up = refund.links?.find((link) => link.rel === 'up')?.href ?? '';
    const captureId = /\/v2\/payments\/captures\/([A-Za-z0-9-]{1,64})$/.exec(up)?.[1] ?? null;
    return {
      refundId: refund.id,
      status: refund.status,
      amountMinor: toMinor(operation, refund.amount),
      currency: refund.amount.currency_code,
      captureId,
    };
  }

  function requireBookingId(bookingId: string) {
    // custom_id and invoice_id allow 127 characters; the request id prefix fits in PayPal's limit too
    if (!bookingId || bookingId.length > 100) throw new TypeError('bookingId must be 1..100 characters');
  }

  return {
    async createOrder(input) {
      requireBookingId(input.bookingId);
      const currency = input.currency.toUpperCase();
      // Converted before the call: a bad amount is our bug, not PayPal being unavailable.
      const value = minorToPayPal(input.amountMinor, currency);
      const description = truncate(input.description.trim(), PAYPAL_DESCRIPTION_MAX);
      const requestId = `create:${input.bookingId}`;
      const body = await execute('createOrder', requestId, (s) =>
        s.orders.createOrder({
          paypalRequestId: requestId,
          prefer: 'return=representation',
          body: {
            intent: CheckoutPaymentIntent.Capture,
            purchaseUnits: [
              {
                amount: { currencyCode: currency, value },
                customId: input.bookingId,
                invoiceId: input.bookingId,
                // PayPal refuses an empty description; it is optional, so an empty one is left out
                ...(description ? { description } : {}),
              },
            ],
            paymentSource: {
              paypal: {
                experienceContext: {
                  returnUrl: input.returnUrl,
                  cancelUrl: input.cancelUrl,
                  userAction: PaypalExperienceUserAction.PayNow,
                  shippingPreference: PaypalWalletContextShippingPreference.NoShipping,
                },
              },
            },
          },
        }),
      );
      const parsed = WireCreatedOrder.safeParse(body);
      if (!parsed.success) throw malformed('createOrder', 'order');
      const approve = parsed.data.links.find((l) => l.rel === 'payer-action' || l.rel === 'approve');
      const approveUrl = approve && URL.canParse(approve.href) ? new URL(approve.href) : null;
      if (!approveUrl || !approveProtocols.includes(approveUrl.protocol))
        throw malformed('createOrder', 'approval link');
      return { orderId: parsed.data.id, approveUrl: approveUrl.toString(), status: parsed.data.status };
    },

    async getOrder(orderId) {
      if (!ID.safeParse(orderId).success) {
        throw new PayPalError({ kind: 'not_found', operation: 'getOrder', message: 'Not a PayPal order id' });
      }
      const body = await execute('getOrder', null, (s) => s.orders.getOrder({ id: orderId }));
      return orderView('getOrder', body);
    },

    async captureOrder({ orderId, bookingId }) {
      requireBookingId(bookingId);
      if (!ID.safeParse(orderId).success) {
        throw new PayPalError({ kind: 'not_found', operation: 'captureOrder', message: 'Not a PayPal order id' });
      }
      const requestId = `capture:${bookingId}`;
      const body = await execute('captureOrder', requestId, (s) =>
        s.orders.captureOrder({ id: orderId, paypalRequestId: requestId, prefer: 'return=representation', body: {} }),
      );
      return orderView('captureOrder', body);
    },

    async refundCapture({ captureId, bookingId, amountMinor, currency, requestId: givenRequestId }) {
      requireBookingId(bookingId);
      if (!ID.safeParse(captureId).success) {
        throw new PayPalError({ kind: 'not_found', operation: 'refundCapture', message: 'Not a PayPal capture id' });
      }
      const code = currency.toUpperCase();
      // No amount means a full refund of what is left on the capture.
      const refundBody =
        amountMinor === undefined ? {} : { amount: { currencyCode: code, value: minorToPayPal(amountMinor, code) } };
      const requestId = givenRequestId ?? `refund:${bookingId}`;
      const body = await execute('refundCapture', requestId, (s) =>
        s.payments.refundCapturedPayment({
          captureId,
          paypalRequestId: requestId,
          prefer: 'return=representation',
          body: refundBody,
        }),
      );
      const parsed = WireRefund.safeParse(body);
      if (!parsed.success) throw malformed('refundCapture', 'refund');
      const refund = refundView('refundCapture', parsed.data);
      return { ...refund, captureId: refund.captureId ?? captureId };
    },

    async getCapture(captureId) {
      if (!ID.safeParse(captureId).success) {
        throw new PayPalError({ kind: 'not_found', operation: 'getCapture', message: 'Not a PayPal capture id' });
      }
      const body = await execute('getCapture', null, (s) => s.payments.getCapturedPayment({ captureId }));
      const parsed = WireCapture.safeParse(body);
      if (!parsed.success) throw malformed('getCapture', 'capture');
      return {
        ...captureView('getCapture', parsed.data),
        orderId: parsed.data.supplementary_data?.related_ids?.order_id ?? null,
      };
    },

    async getRefund(refundId) {
      if (!ID.safeParse(refundId).success) {
        throw new PayPalError({ kind: 'not_found', operation: 'getRefund', message: 'Not a PayPal refund id' });
      }
      const body = await execute('getRefund', null, (s) => s.payments.getRefund({ refundId }));
      const parsed = WireRefund.safeParse(body);
      if (!parsed.success) throw malformed('getRefund', 'refund');
      return refundView('getRefund', parsed.data);
    },
  };
}
