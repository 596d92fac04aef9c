import type { Faults, SimCaptureBehaviour, SimFaultTiming } from './faults.ts';
import type { Tokens } from './oauth.ts';
import type { RequestLog, SimOperation, SimRequest } from './operations.ts';
import { type Clock, isoTime, type SimCapture, type SimOrder, type SimPayer, type SimStore } from './state.ts';

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

export function createControls(deps: {
  store: SimStore;
  faults: Faults;
  tokens: Tokens;
  log: RequestLog;
  clock: Clock;
}): PayPalSimulatorControls {
  const { store, faults, tokens, log, clock } = deps;
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
      if (store.approve(order, payer) === 'closed') {
        throw new Error(`PayPal simulator: order ${orderId} is ${order.status} and cannot be approved`);
      }
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
      return snapshot(capture);
    },
    revokeTokens() {
      faults.guard('revokeTokens');
      tokens.revokeAll();
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
    reset() {
      store.clear();
      faults.clear();
      log.clear();
    },
  };
}
