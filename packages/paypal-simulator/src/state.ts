import { randomInt } from 'node:crypto';

/** Orders, captures and refunds as the simulator keeps them, and the store that holds them. */

export type Clock = { now(): Date };
export const systemClock: Clock = { now: () => new Date() };

export type SimOrderStatus = 'CREATED' | 'PAYER_ACTION_REQUIRED' | 'APPROVED' | 'COMPLETED' | 'VOIDED';
export type SimCaptureStatus = 'COMPLETED' | 'PENDING' | 'DECLINED' | 'PARTIALLY_REFUNDED' | 'REFUNDED';
export type SimMoney = { currency_code: string; value: string };
export type SimPayer = { payerId: string; email: string; givenName: string; surname: string; countryCode: string };

export type SimRefund = {
  id: string;
  captureId: string;
  /** FAILED only when a test asks for it (`queueRefund`): no money moved, the capture is unchanged. */
  status: 'COMPLETED' | 'FAILED';
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

/** What survives a restart: the money side and the idempotency records that protect it. */
export type SimState = {
  version: 1;
  orders: SimOrder[];
  /** Create calls by PayPal-Request-Id, so a retry after a restart still finds its order. */
  createdByRequestId: { requestId: string; orderId: string; expiresAt: number }[];
  /** Answers to capture and refund calls by `scope:id:PayPal-Request-Id`, replayed to a repeat. */
  responses: { key: string; body: unknown; expiresAt: number }[];
};

export type SimStore = {
  order(id: string): SimOrder | undefined;
  capture(id: string): SimCapture | undefined;
  refund(id: string): SimRefund | undefined;
  orders(): SimOrder[];
  addOrder(order: SimOrder, requestId: string | null): void;
  /** The order a create call with this PayPal-Request-Id made within the idempotency window. */
  orderCreatedBy(requestId: string): SimOrder | undefined;
  addCapture(order: SimOrder, capture: SimCapture): void;
  addRefund(capture: SimCapture, refund: SimRefund): void;
  /** As PayPal does with unapproved orders after about 3 hours: the order is gone. */
  forgetOrder(id: string): void;
  /** What the Approve button does; `closed` for orders that can no longer be approved. */
  approve(order: SimOrder, payer?: Partial<SimPayer>): 'approved' | 'already' | 'closed';
  /** PayPal's default account setting blocks a second payment with the same invoice_id. */
  invoicePaidElsewhere(order: SimOrder): boolean;
  replay(key: string): { body: unknown } | undefined;
  remember(key: string, body: unknown): void;
  /** Call after changing an order, capture or refund in place. */
  changed(): void;
  clear(): void;
  snapshot(): SimState;
};

const ALNUM = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789';
export const randomId = (length: number) => Array.from({ length }, () => ALNUM[randomInt(ALNUM.length)]).join('');

/** PayPal's timestamps: seconds precision, UTC. */
export const isoTime = (clock: Clock) =>
  clock
    .now()
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z');

export function createStore(opts: {
  clock: Clock;
  idempotencyTtlMs: number;
  initial?: SimState | null;
  onChange?: () => void;
}): SimStore {
  const { clock, idempotencyTtlMs } = opts;
  const nowMs = () => clock.now().getTime();
  const orders = new Map<string, SimOrder>();
  const captures = new Map<string, SimCapture>();
  const refunds = new Map<string, SimRefund>();
  const createdByRequestId = new Map<string, { orderId: string; expiresAt: number }>();
  const responses = new Map<string, { body: unknown; expiresAt: number }>();
  const changed = () => opts.onChange?.();

  if (opts.initial) {
    for (const order of structuredClone(opts.initial.orders)) {
      orders.set(order.id, order);
      for (const capture of order.captures) {
        captures.set(capture.id, capture);
        for (const refund of capture.refunds) refunds.set(refund.id, refund);
      }
    }
    for (const { requestId, ...entry } of opts.initial.createdByRequestId) createdByRequestId.set(requestId, entry);
    for (const { key, ...entry } of opts.initial.responses) responses.set(key, structuredClone(entry));
  }

  const live = <T extends { expiresAt: number }>(entries: Map<string, T>) =>
    [...entries].filter(([, entry]) => entry.expiresAt > nowMs());

  return {
    order: (id) => orders.get(id),
    capture: (id) => captures.get(id),
    refund: (id) => refunds.get(id),
    orders: () => [...orders.values()],
    addOrder(order, requestId) {
      orders.set(order.id, order);
      if (requestId) createdByRequestId.set(requestId, { orderId: order.id, expiresAt: nowMs() + idempotencyTtlMs });
      changed();
    },
    orderCreatedBy(requestId) {
      const prior = createdByRequestId.get(requestId);
      return prior && prior.expiresAt > nowMs() ? orders.get(prior.orderId) : undefined;
    },
    addCapture(order, capture) {
      order.captures.push(capture);
      captures.set(capture.id, capture);
      changed();
    },
    addRefund(capture, refund) {
      capture.refunds.push(refund);
      refunds.set(refund.id, refund);
      changed();
    },
    forgetOrder(id) {
      orders.delete(id);
      changed();
    },
    approve(order, payer) {
      if (order.status === 'APPROVED') return 'already';
      if (order.status !== 'CREATED' && order.status !== 'PAYER_ACTION_REQUIRED') return 'closed';
      order.status = 'APPROVED';
      order.payer = {
        payerId: randomId(13),
        email: 'sb-buyer@personal.example.com',
        givenName: 'Sandbox',
        surname: 'Buyer',
        countryCode: 'US',
        ...payer,
      };
      order.updateTime = isoTime(clock);
      changed();
      return 'approved';
    },
    invoicePaidElsewhere(order) {
      if (order.invoiceId === null) return false;
      for (const other of orders.values()) {
        if (other.id === order.id || other.invoiceId !== order.invoiceId) continue;
        if (other.captures.some((capture) => capture.status !== 'DECLINED')) return true;
      }
      return false;
    },
    replay(key) {
      const stored = responses.get(key);
      if (stored && stored.expiresAt <= nowMs()) {
        responses.delete(key);
        return undefined;
      }
      return stored;
    },
    remember(key, body) {
      responses.set(key, { body, expiresAt: nowMs() + idempotencyTtlMs });
      changed();
    },
    changed,
    clear() {
      orders.clear();
      captures.clear();
      refunds.clear();
      createdByRequestId.clear();
      responses.clear();
      changed();
    },
    snapshot: () =>
      structuredClone({
        version: 1 as const,
        orders: [...orders.values()],
        createdByRequestId: live(createdByRequestId).map(([requestId, entry]) => ({ requestId, ...entry })),
        responses: live(responses).map(([key, entry]) => ({ key, ...entry })),
      }),
  };
}
