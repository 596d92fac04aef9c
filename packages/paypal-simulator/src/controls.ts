import type { Faults, SimCaptureBehaviour, SimFaultTiming, SimRefundBehaviour } from './faults.ts';
import type { Tokens } from './oauth.ts';
import type { RequestLog, SimOperation, SimRequest } from './operations.ts';
import { recordRefund, refundableMinor } from './payments.routes.ts';
import {
  type Clock,
  isoTime,
  type SimCapture,
  type SimOrder,
  type SimPayer,
  type SimRefund,
  type SimStore,
} from './state.ts';
import type { DeliverOptions, SimWebhookDelivery, SimWebhookEvent, Webhooks } from './webhooks.ts';

/**
 * What a test (or a local tool) drives the simulator with, in-process. Reading state, approving as
 * the buyer would, and reset are always there; everything that makes PayPal misbehave or changes
 * what PayPal would never change on its own needs `faults: true` and throws FaultsDisabledError otherwise.
 */
export type PayPalSimulatorControls = {
  /** The next `times` (default 1) calls to `operation` answer HTTP `status` (default 500). Needs faults. */
  failNext(operation: SimOperation, opts?: SimFaultTiming & { status?: number }): void;
  /** The next `times` (default 1) calls to `operation` take `ms` longer; by default after taking effect. Needs faults. */
  hangNext(operation: SimOperation, opts: SimFaultTiming & { ms: number }): void;
  /** Needs faults. */
  queueCapture(behaviour: SimCaptureBehaviour): void;
  /** What the Approve button does, without a browser. */
  approve(orderId: string, payer?: Partial<SimPayer>): SimOrder;
  /** Needs faults. */
  voidOrder(orderId: string): SimOrder;
  /** Forgets the order, as PayPal does with unapproved orders after about 3 hours (GET answers 404). Needs faults. */
  expireOrder(orderId: string): void;
  /** Moves a PENDING capture on, as PayPal does after its review. Needs faults. */
  settleCapture(captureId: string, status: 'COMPLETED' | 'DECLINED'): SimCapture;
  /** Invalidates every access token handed out so far (clients must fetch a new one). Needs faults. */
  revokeTokens(): void;
  /** The next refund (of `captureId`, or of any capture) fails outright at PayPal. Needs faults. */
  queueRefund(behaviour: SimRefundBehaviour): void;
  /**
   * The merchant refunds what is left of a capture in PayPal's dashboard, not through the API, so a
   * PAYMENT.CAPTURE.REFUNDED webhook arrives for a refund the shop never asked for. Needs faults.
   */
  refundInDashboard(captureId: string): SimRefund;
  /** The buyer's bank takes the money back (a chargeback): PAYMENT.CAPTURE.REVERSED. Needs faults. */
  reverseCapture(captureId: string): SimRefund;
  /** Every webhook event emitted so far, oldest first. */
  webhookEvents(): SimWebhookEvent[];
  /** Every transmission, sent or still queued (each retry is one of its own). */
  webhookDeliveries(): SimWebhookDelivery[];
  /** Holds webhook deliveries back until `resumeWebhooks` or `deliverWebhooks`. Needs faults. */
  pauseWebhooks(): void;
  resumeWebhooks(): void;
  /** Sends the due deliveries now, paused or not, in order, reversed or only some; resolves with how many. Needs faults. */
  deliverWebhooks(opts?: DeliverOptions): Promise<number>;
  /** The next `times` (default 1) events are each delivered twice. Needs faults. */
  duplicateWebhooks(times?: number): void;
  /** The next `times` (default 1) events come due `ms` later, by the simulator's clock. Needs faults. */
  delayWebhooks(ms: number, times?: number): void;
  /** Delivers an event again (PayPal's resend). Needs faults. */
  resendWebhook(eventId: string): void;
  orders(): SimOrder[];
  order(orderId: string): SimOrder | undefined;
  capture(captureId: string): SimCapture | undefined;
  /** Captures actually performed for the order (idempotent replays do not count). */
  captureCount(orderId: string): number;
  /** HTTP calls received per operation, including failed and replayed ones. */
  counts(): Record<SimOperation, number>;
  /** The last 1000 requests, oldest first. */
  requests(): SimRequest[];
  /** Forgets orders, captures, faults, counters, recorded requests and webhook events; tokens and webhook subscriptions stay. */
  reset(): void;
  /** Drops the faults and scripted capture and refund outcomes still queued; orders, payments and webhooks stay. */
  clearFaults(): void;
};

export function createControls(deps: {
  store: SimStore;
  faults: Faults;
  tokens: Tokens;
  log: RequestLog;
  clock: Clock;
  webhooks: Webhooks;
}): PayPalSimulatorControls {
  const { store, faults, tokens, log, clock, webhooks } = deps;
  const requireCapture = (captureId: string): SimCapture => {
    const capture = store.capture(captureId);
    if (!capture) throw new Error(`PayPal simulator: no capture ${captureId}`);
    return capture;
  };
  /** What the dashboard and a chargeback do: whatever is left goes back, and PayPal says so. */
  const giveBack = (captureId: string, type: 'PAYMENT.CAPTURE.REFUNDED' | 'PAYMENT.CAPTURE.REVERSED') => {
    const capture = requireCapture(captureId);
    const amountMinor = refundableMinor(capture);
    if (capture.status === 'PENDING' || capture.status === 'DECLINED' || amountMinor <= 0)
      throw new Error(`PayPal simulator: capture ${captureId} is ${capture.status} and has nothing to refund`);
    const refund = recordRefund({ store, clock }, capture, { amountMinor, noteToPayer: null, status: 'COMPLETED' });
    webhooks.publish.refunded(refund, type);
    return structuredClone(refund);
  };
  const snapshot = <T>(value: T): T => structuredClone(value);
  const requireOrder = (orderId: string): SimOrder => {
    const order = store.order(orderId);
    if (!order) throw new Error(`PayPal simulator: no order ${orderId}`);
    return order;
  };

  return {
    failNext: (op, opts) => faults.failNext(op, opts),
    hangNext: (op, opts) => faults.hangNext(op, opts),
    queueCapture: (behaviour) => faults.queueCapture(behaviour),
    approve(orderId, payer) {
      const order = requireOrder(orderId);
      const approved = store.approve(order, payer);
      if (approved === 'closed') {
        throw new Error(`PayPal simulator: order ${orderId} is ${order.status} and cannot be approved`);
      }
      if (approved === 'approved') webhooks.publish.orderApproved(order);
      return snapshot(order);
    },
    voidOrder(orderId) {
      faults.guard('voidOrder');
      const order = requireOrder(orderId);
      order.status = 'VOIDED';
      order.updateTime = isoTime(clock);
      store.changed();
      return snapshot(order);
    },
    expireOrder(orderId) {
      faults.guard('expireOrder');
      store.forgetOrder(orderId);
    },
    settleCapture(captureId, status) {
      faults.guard('settleCapture');
      const capture = store.capture(captureId);
      if (!capture) throw new Error(`PayPal simulator: no capture ${captureId}`);
      capture.status = status;
      capture.updateTime = isoTime(clock);
      store.changed();
      // a pending capture that PayPal's review turns down is DENIED, in PayPal's words
      webhooks.publish.captureChanged(capture, status === 'DECLINED' ? 'PAYMENT.CAPTURE.DENIED' : undefined);
      return snapshot(capture);
    },
    revokeTokens() {
      faults.guard('revokeTokens');
      tokens.revokeAll();
    },
    queueRefund: (behaviour) => faults.queueRefund(behaviour),
    refundInDashboard(captureId) {
      faults.guard('refundInDashboard');
      return giveBack(captureId, 'PAYMENT.CAPTURE.REFUNDED');
    },
    reverseCapture(captureId) {
      faults.guard('reverseCapture');
      return giveBack(captureId, 'PAYMENT.CAPTURE.REVERSED');
    },
    webhookEvents: () => webhooks.events(),
    webhookDeliveries: () => webhooks.deliveries(),
    pauseWebhooks() {
      faults.guard('pauseWebhooks');
      webhooks.pause();
    },
    resumeWebhooks: () => webhooks.resume(),
    deliverWebhooks(opts) {
      faults.guard('deliverWebhooks');
      return webhooks.deliver(opts);
    },
    duplicateWebhooks(times = 1) {
      faults.guard('duplicateWebhooks');
      webhooks.duplicateNext(times);
    },
    delayWebhooks(ms, times = 1) {
      faults.guard('delayWebhooks');
      webhooks.delayNext(ms, times);
    },
    resendWebhook(eventId) {
      faults.guard('resendWebhook');
      webhooks.resend(eventId);
    },
    orders: () => snapshot(store.orders()),
    order: (orderId) => {
      const order = store.order(orderId);
      return order ? snapshot(order) : undefined;
    },
    capture: (captureId) => {
      const capture = store.capture(captureId);
      return capture ? snapshot(capture) : undefined;
    },
    captureCount: (orderId) => store.order(orderId)?.captures.length ?? 0,
    counts: () => log.counts(),
    requests: () => log.entries(),
    clearFaults: () => faults.clear(),
    reset() {
      store.clear();
      faults.clear();
      log.clear();
      webhooks.clear();
    },
  };
}
