import { randomUUID, sign } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Hono } from 'hono';
import { createSigningIdentity } from './certificate.ts';
import type { SimEnv } from './operations.ts';
import { type Clock, isoTime, randomId, type SimCapture, type SimOrder, type SimRefund } from './state.ts';
import type { Views } from './wire.ts';

/**
 * Webhook notifications as PayPal sends them: an event per change of an order, capture or refund,
 * POSTed to every subscribed listener, signed with the simulator's own key (SHA256withRSA over
 * `transmissionId|transmissionTime|webhookId|crc32(body)`), its certificate served at the
 * PAYPAL-CERT-URL the delivery names. A listener that does not answer 2xx gets the delivery again
 * on PayPal's schedule: 25 more times over about three days. Each retry is a new transmission of
 * the same event (new transmission id and time, same event id and body).
 *
 * Deliveries go out in the order the events happened, one at a time, as soon as they are due. Tests
 * can hold them back (`pause`), let them out in another order or only some of them (`deliver`),
 * send one twice (`duplicateNext`, `resend`) or late (`delayNext`).
 */

export const WEBHOOK_EVENT_TYPES = [
  'CHECKOUT.ORDER.APPROVED',
  'PAYMENT.CAPTURE.COMPLETED',
  'PAYMENT.CAPTURE.PENDING',
  'PAYMENT.CAPTURE.DECLINED',
  'PAYMENT.CAPTURE.DENIED',
  'PAYMENT.CAPTURE.REFUNDED',
  'PAYMENT.CAPTURE.REVERSED',
] as const;
export type SimWebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Delays before retry 1, 2, ... 25 after a delivery failed: minutes at first, then hours, ~3 days in all. */
export const WEBHOOK_RETRY_DELAYS_MS: readonly number[] = [
  0.5, 1, 2, 5, 10, 15, 30, 60, 60, 120, 120, 180, 180, 180, 240, 240, 240, 240, 300, 300, 300, 300, 360, 360, 360,
].map((minutes) => minutes * 60_000);

export const AUTH_ALGO = 'SHA256withRSA';
const DELIVERY_TIMEOUT_MS = 10_000;
const MAX_KEPT = 1000;

export type SimWebhookEvent = {
  id: string;
  event_version: '1.0';
  create_time: string;
  resource_type: string;
  resource_version: '2.0';
  event_type: SimWebhookEventType;
  summary: string;
  resource: Record<string, unknown>;
  links: { href: string; rel: string; method: string }[];
};

export type SimWebhookSubscription = { id: string; url: string };

export type SimWebhookDelivery = {
  transmissionId: string;
  eventId: string;
  eventType: SimWebhookEventType;
  webhookId: string;
  url: string;
  /** 1 for the first transmission, 2 for the first retry, ... */
  attempt: number;
  state: 'queued' | 'sending' | 'delivered' | 'failed';
  /** When it may go out, by the simulator's clock. */
  dueAt: string;
  responseStatus: number | null;
};

export type DeliverOptions = {
  /** Newest first instead of in the order the events happened. */
  reverse?: boolean;
  /** Only these; the others stay queued. */
  eventTypes?: readonly string[];
  /** Only to the listener at this URL. */
  url?: string;
};

type Queued = SimWebhookDelivery & { due: number; body: string };

export type WebhookPublisher = {
  orderApproved(order: SimOrder): void;
  /** PAYMENT.CAPTURE.COMPLETED / PENDING / DECLINED by the capture's status, or the type given. */
  captureChanged(capture: SimCapture, type?: SimWebhookEventType): void;
  refunded(refund: SimRefund, type?: 'PAYMENT.CAPTURE.REFUNDED' | 'PAYMENT.CAPTURE.REVERSED'): void;
};

export function createWebhooks(deps: { clock: Clock; publicUrl: string; views: Views }) {
  const { clock, views } = deps;
  const identity = createSigningIdentity({
    commonName: 'messageverificationcerts.simulator.invalid',
    now: clock.now(),
  });
  const certId = `CERT-SIM-${randomId(16)}`;
  const certificateUrl = `${deps.publicUrl}/v1/notifications/certs/${certId}`;
  /** Keyed by id and URL: a webhook id names one listener at PayPal, but a test may point a second one at it. */
  const subscriptions = new Map<string, SimWebhookSubscription>();
  const keyOf = (subscription: SimWebhookSubscription) => `${subscription.id} ${subscription.url}`;
  const events: { event: SimWebhookEvent; body: string }[] = [];
  const queue: Queued[] = [];
  const done: SimWebhookDelivery[] = [];
  let paused = false;
  let closed = false;
  let duplicates = 0;
  let delays: { ms: number; times: number } | null = null;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  const inFlight = new Set<AbortController>();

  const keep = <T>(list: T[]) => {
    if (list.length > MAX_KEPT) list.splice(0, list.length - MAX_KEPT);
  };
  const view = ({ body: _, due: __, ...delivery }: Queued): SimWebhookDelivery => structuredClone(delivery);

  function enqueue(
    entry: { event: SimWebhookEvent; body: string },
    subscription: SimWebhookSubscription,
    opts: { attempt: number; due: number },
  ) {
    queue.push({
      transmissionId: randomUUID(),
      eventId: entry.event.id,
      eventType: entry.event.event_type,
      webhookId: subscription.id,
      url: subscription.url,
      attempt: opts.attempt,
      state: 'queued',
      dueAt: new Date(opts.due).toISOString(),
      due: opts.due,
      responseStatus: null,
      body: entry.body,
    });
  }

  async function send(item: Queued): Promise<void> {
    item.state = 'sending';
    const time = isoTime(clock);
    const signed = `${item.transmissionId}|${time}|${item.webhookId}|${crc32(item.body)}`;
    const abort = new AbortController();
    inFlight.add(abort);
    const timeout = setTimeout(() => abort.abort(), DELIVERY_TIMEOUT_MS);
    let status = 0;
    try {
      const response = await fetch(item.url, {
        method: 'POST',
        redirect: 'manual',
        signal: abort.signal,
        headers: {
          'content-type': 'application/json',
          'paypal-transmission-id': item.transmissionId,
          'paypal-transmission-time': time,
          'paypal-transmission-sig': sign('sha256', Buffer.from(signed), identity.privateKey).toString('base64'),
          'paypal-cert-url': certificateUrl,
          'paypal-auth-algo': AUTH_ALGO,
        },
        body: item.body,
      });
      status = response.status;
      await response.body?.cancel();
    } catch {
      // no answer: PayPal counts it as a failure like any other
    } finally {
      clearTimeout(timeout);
      inFlight.delete(abort);
    }
    item.responseStatus = status || null;
    item.state = status >= 200 && status < 300 ? 'delivered' : 'failed';
    const index = queue.indexOf(item);
    if (index !== -1) queue.splice(index, 1);
    done.push(view(item));
    keep(done);
    const delay = WEBHOOK_RETRY_DELAYS_MS[item.attempt - 1];
    const entry = events.find((candidate) => candidate.event.id === item.eventId);
    const subscription = subscriptions.get(`${item.webhookId} ${item.url}`);
    if (item.state === 'failed' && delay !== undefined && entry && subscription && !closed)
      enqueue(entry, subscription, { attempt: item.attempt + 1, due: clock.now().getTime() + delay });
  }

  /** Runs `work` after whatever delivery work is running, so deliveries never overlap. */
  function serial<T>(work: () => Promise<T>): Promise<T> {
    const next = chain.then(work);
    chain = next.catch(() => {});
    return next;
  }

  const dueNow = () => queue.filter((item) => item.state === 'queued' && item.due <= clock.now().getTime());

  /** Sends what is due, in order, then waits (by a timer) for the next retry to come due. */
  function pump() {
    if (closed) return;
    void serial(async () => {
      if (paused) return;
      for (let item = dueNow()[0]; item && !paused && !closed; item = dueNow()[0]) await send(item);
      arm();
    });
  }

  function arm() {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (closed || paused) return;
    const next = queue
      .filter((item) => item.state === 'queued')
      .reduce((min, item) => Math.min(min, item.due), Number.POSITIVE_INFINITY);
    if (next === Number.POSITIVE_INFINITY) return;
    const wait = Math.min(Math.max(next - clock.now().getTime(), 1000), 2_147_483_647);
    timer = setTimeout(pump, wait);
    timer.unref();
  }

  function emit(type: SimWebhookEventType, resourceType: string, resource: Record<string, unknown>, summary: string) {
    const event: SimWebhookEvent = {
      id: `WH-${randomId(17)}-${randomId(17)}`,
      event_version: '1.0',
      create_time: clock.now().toISOString(),
      resource_type: resourceType,
      resource_version: '2.0',
      event_type: type,
      summary,
      resource,
      links: [],
    };
    event.links = [
      { href: `${deps.publicUrl}/v1/notifications/webhooks-events/${event.id}`, rel: 'self', method: 'GET' },
      { href: `${deps.publicUrl}/v1/notifications/webhooks-events/${event.id}/resend`, rel: 'resend', method: 'POST' },
    ];
    const entry = { event, body: JSON.stringify(event) };
    events.push(entry);
    keep(events);
    let due = clock.now().getTime();
    if (delays) {
      due += delays.ms;
      delays.times -= 1;
      if (delays.times <= 0) delays = null;
    }
    const copies = duplicates > 0 ? 2 : 1;
    if (duplicates > 0) duplicates -= 1;
    for (const subscription of subscriptions.values())
      for (let copy = 0; copy < copies; copy += 1) enqueue(entry, subscription, { attempt: 1, due });
    pump();
  }

  const money = (amount: { currency_code: string; value: string }) => `${amount.currency_code} ${amount.value}`;

  const publish: WebhookPublisher = {
    orderApproved(order) {
      emit(
        'CHECKOUT.ORDER.APPROVED',
        'checkout-order',
        views.orderJson(order, 'full'),
        'An order has been approved by buyer',
      );
    },
    captureChanged(capture, type) {
      const byStatus: Partial<Record<SimCapture['status'], SimWebhookEventType>> = {
        COMPLETED: 'PAYMENT.CAPTURE.COMPLETED',
        PENDING: 'PAYMENT.CAPTURE.PENDING',
        DECLINED: 'PAYMENT.CAPTURE.DECLINED',
      };
      const eventType = type ?? byStatus[capture.status];
      if (!eventType) return;
      emit(
        eventType,
        'capture',
        views.captureJson(capture),
        `Payment ${capture.status.toLowerCase()} for ${money(capture.amount)}`,
      );
    },
    refunded(refund, type = 'PAYMENT.CAPTURE.REFUNDED') {
      const summary = `A ${money(refund.amount)} capture payment was ${type === 'PAYMENT.CAPTURE.REVERSED' ? 'reversed' : 'refunded'}`;
      emit(type, 'refund', views.refundJson(refund, true), summary);
    },
  };

  // PayPal serves its certificates without authentication: a listener needs no credentials to verify
  const routes = new Hono<SimEnv>();
  routes.get('/v1/notifications/certs/:certId', (c) => {
    if (c.req.param('certId') !== certId) return c.json({ name: 'RESOURCE_NOT_FOUND' }, 404);
    return c.body(identity.certificatePem, 200, { 'content-type': 'text/plain; charset=utf-8' });
  });

  return {
    certificateUrl,
    certificatePem: identity.certificatePem,
    routes,
    publish,
    subscribe(subscription: { url: string; id?: string }): SimWebhookSubscription {
      const url = new URL(subscription.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('webhook URL must be http(s)');
      const added = { id: subscription.id ?? randomId(17), url: url.toString() };
      subscriptions.set(keyOf(added), added);
      return { ...added };
    },
    /** Removes the listeners with this id (only the one at `url`, if given) and what is queued for them. */
    unsubscribe(id: string, url?: string) {
      const at = url === undefined ? undefined : new URL(url).toString();
      const gone = (webhookId: string, target: string) => webhookId === id && (at === undefined || target === at);
      for (const [key, subscription] of [...subscriptions])
        if (gone(subscription.id, subscription.url)) subscriptions.delete(key);
      for (const item of [...queue])
        if (gone(item.webhookId, item.url) && item.state === 'queued') queue.splice(queue.indexOf(item), 1);
    },
    subscriptions: () => [...subscriptions.values()].map((s) => ({ ...s })),
    events: (): SimWebhookEvent[] => events.map((entry) => structuredClone(entry.event)),
    deliveries: (): SimWebhookDelivery[] => [...done, ...queue.map(view)],
    pause() {
      paused = true;
      arm();
    },
    resume() {
      paused = false;
      pump();
    },
    /** Sends every due delivery now (paused or not) and resolves with how many went out. */
    deliver(opts: DeliverOptions = {}): Promise<number> {
      return serial(async () => {
        const to = opts.url === undefined ? undefined : new URL(opts.url).toString();
        let picked = dueNow().filter(
          (item) => (!opts.eventTypes || opts.eventTypes.includes(item.eventType)) && (!to || item.url === to),
        );
        if (opts.reverse) picked = picked.reverse();
        for (const item of picked) await send(item);
        arm();
        return picked.length;
      });
    },
    /** Another transmission of an event already sent (PayPal's "resend"). */
    resend(eventId: string) {
      const entry = events.find((candidate) => candidate.event.id === eventId);
      if (!entry) throw new Error(`PayPal simulator: no webhook event ${eventId}`);
      for (const subscription of subscriptions.values())
        enqueue(entry, subscription, { attempt: 1, due: clock.now().getTime() });
      pump();
    },
    duplicateNext(times: number) {
      duplicates += times;
    },
    delayNext(ms: number, times: number) {
      delays = { ms, times };
    },
    clear() {
      events.length = 0;
      queue.length = 0;
      done.length = 0;
      duplicates = 0;
      delays = null;
      paused = false;
      arm();
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const abort of inFlight) abort.abort();
      await chain;
    },
  };
}

export type Webhooks = ReturnType<typeof createWebhooks>;
