import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PayPalSimulatorControls } from '@boxoffice/paypal-simulator';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { manualClock } from '../../lib/clock.ts';
import { expectBalanced, pressPayPalButton } from '../../test/fixtures.ts';
import { startTestServer, type TestServer } from '../../test/harness.ts';
import { bookingStatus, expectMoneyAndTicketsAgree, ledgerOf, paidHold, webhooksDelivered } from '../../test/money.ts';
import { reconcilePayments } from '../reconcile.ts';

// The simulator delivers its webhooks over HTTP to this server's /webhooks/paypal, signed for
// WEBHOOK_ID; jobs (the processing of stored events) run only where a test calls runDue().
const WEBHOOK_ID = 'WHTEST0000000001';
const clock = manualClock(new Date('2026-12-01T10:00:00Z'));
let server: TestServer;
let sim: PayPalSimulatorControls;

/** A listener of our own, subscribed like the server, to see exactly what the simulator sends. */
let tap: Server;
let tapped: { headers: Record<string, string>; body: Buffer }[] = [];

beforeAll(async () => {
  server = await startTestServer({
    clock,
    pollJobs: false,
    env: {
      PAYPAL_TIMEOUT_MS: '1000',
      ACCESS_TOKEN_EXPIRE_MINUTES: '1440',
      PAYPAL_SIMULATOR_WEBHOOKS: 'true',
      PAYPAL_WEBHOOK_ID: WEBHOOK_ID,
    },
  });
  sim = server.deps.paypalSimulator!.controls;
  tap = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      tapped.push({ headers: req.headers as Record<string, string>, body: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => tap.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await new Promise((resolve) => tap.close(resolve));
  await server?.close();
});
// no sim.reset() between tests: the last test reconciles every booking of the file against PayPal
beforeEach(() => {
  tapped = [];
});

/** What the simulator emits and sends from now on (earlier tests' deliveries aside). */
function fromNowOn() {
  const events = new Set(sim.webhookEvents().map((e) => e.id));
  const deliveries = new Set(sim.webhookDeliveries().map((d) => d.transmissionId));
  return {
    events: () => sim.webhookEvents().filter((e) => !events.has(e.id)),
    deliveries: () => sim.webhookDeliveries().filter((d) => !deliveries.has(d.transmissionId)),
  };
}

const visit = (url: string) => server.http('GET', url.replace(server.url, ''));
const storedEvents = () =>
  server.sql<{ event_id: string; event_type: string; processed_at: Date | null; outcome: string | null }>(
    'SELECT event_id, event_type, processed_at, outcome FROM webhook_events ORDER BY received_at, event_id',
  );

/** Delivers what is due, then lets the server's jobs act on what arrived. */
async function deliverAndProcess(opts?: Parameters<PayPalSimulatorControls['deliverWebhooks']>[0]) {
  await sim.deliverWebhooks(opts);
  await webhooksDelivered(sim, { queued: false });
  await server.worker.runDue();
}

/** Against a standalone simulator (TEST_PAYPAL_SIMULATOR=standalone) PayPal keeps its own time. */
const simulatorOnOurClock = () => !server.deps.config.PAYPAL_API_BASE_URL;

/** What the simulator sends for an approval, signed for our webhook, caught on the way (deliveries stay paused). */
async function genuineDelivery() {
  const tapUrl = `http://127.0.0.1:${(tap.address() as AddressInfo).port}/`;
  server.deps.paypalSimulator!.addWebhook({ url: tapUrl, id: WEBHOOK_ID });
  try {
    sim.pauseWebhooks();
    const held = await paidHold(server);
    sim.approve(held.orderId);
    await sim.deliverWebhooks({ url: tapUrl }); // the server's own copy stays queued
    const delivery = tapped[0];
    if (!delivery) throw new Error('nothing tapped');
    return { held, ...delivery };
  } finally {
    server.deps.paypalSimulator!.removeWebhook(WEBHOOK_ID, tapUrl);
  }
}

const post = (headers: Record<string, string>, body: Buffer | string) =>
  fetch(`${server.url}/webhooks/paypal`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });

describe('POST /webhooks/paypal: verified before anything else (P8)', () => {
  it('a changed body byte, a bad signature or a certificate URL outside PayPal’s hosts: 400, nothing fetched, no row', async () => {
    const { held, headers, body } = await genuineDelivery();
    const before = await storedEvents();
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    const redirector = createServer((_req, res) => {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    let redirectorHits = 0;
    redirector.on('request', () => {
      redirectorHits += 1;
    });
    try {
      const changed = Buffer.from(body);
      const at = changed.indexOf('APPROVED');
      changed[at] = 'B'.charCodeAt(0);
      const sig = headers['paypal-transmission-sig'] as string;
      const cases: [string, Record<string, string>, Buffer][] = [
        ['changed body byte', headers, changed],
        [
          'bad signature',
          { ...headers, 'paypal-transmission-sig': `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}` },
          body,
        ],
        [
          'metadata endpoint',
          { ...headers, 'paypal-cert-url': 'http://169.254.169.254/latest/meta-data/cert.pem' },
          body,
        ],
        [
          'a redirect to it',
          {
            ...headers,
            'paypal-cert-url': `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/v1/notifications/certs/CERT-1`,
          },
          body,
        ],
        [
          'https but not PayPal',
          { ...headers, 'paypal-cert-url': 'https://paypal.example.com/v1/notifications/certs/C' },
          body,
        ],
        [
          'no signature',
          Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'paypal-transmission-sig')),
          body,
        ],
      ];
      fetchSpy.mockClear();
      for (const [label, sent, payload] of cases) {
        const res = await post(sent, payload);
        expect(res.status, label).toBe(400);
        expect((await res.json()).error.code, label).toBe('WEBHOOK_SIGNATURE_INVALID');
      }
      // offline mode pins the simulator's certificate; against a standalone simulator it is the one URL fetched
      const fetched = fetchSpy.mock.calls.map(([input]) => String(input));
      expect(fetched.filter((url) => !url.endsWith('/webhooks/paypal') && url !== headers['paypal-cert-url'])).toEqual(
        [],
      );
      expect(redirectorHits).toBe(0);
      expect(await storedEvents()).toEqual(before);
      await server.worker.runDue();
      expect(await bookingStatus(server, held.bookingId)).toBe('HELD');
      expect(sim.captureCount(held.orderId)).toBe(0);
    } finally {
      fetchSpy.mockRestore();
      await new Promise((resolve) => redirector.close(resolve));
    }
    // the genuine delivery is accepted, once; a replay of it is a duplicate that changes nothing
    const first = await post(headers, body);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: true, duplicate: false });
    const replay = await post(headers, body);
    expect(await replay.json()).toEqual({ received: true, duplicate: true });
    sim.resumeWebhooks(); // the server's own copy: a duplicate too
    await webhooksDelivered(sim);
    const sent = sim.webhookDeliveries().filter((d) => d.eventId === JSON.parse(body.toString()).id);
    expect(sent.map((d) => [d.url.endsWith('/webhooks/paypal'), d.state, d.responseStatus])).toEqual([
      [false, 'delivered', 204],
      [true, 'delivered', 200],
    ]);
  });
});

describe('webhooks settle payments through the same paths as the return visit', () => {
  it('approve, close the browser (no return visit): the APPROVED webhook captures and confirms', async () => {
    const held = await paidHold(server);
    await pressPayPalButton(server, held.orderId, 'approve'); // the browser is closed before the redirect
    await webhooksDelivered(sim);
    expect((await storedEvents()).map((e) => e.event_type)).toContain('CHECKOUT.ORDER.APPROVED');
    await server.worker.runDue(); // APPROVED → capture → PayPal sends COMPLETED
    await webhooksDelivered(sim);
    await server.worker.runDue();
    expect(await bookingStatus(server, held.bookingId)).toBe('CONFIRMED');
    expect(sim.captureCount(held.orderId)).toBe(1);
    expect(await ledgerOf(server, held.bookingId)).toEqual([
      { kind: 'capture', status: 'COMPLETED', amount_minor: 5000 },
    ]);
    expect(await expectBalanced(server, held.eventId)).toMatchObject({ sold: 2, held: 0 });
    const processed = await storedEvents();
    expect(processed.every((e) => e.processed_at !== null)).toBe(true);
  });

  it('approved after the hold lapsed with no tickets left: nothing is captured', async () => {
    const held = await paidHold(server, { quantity: 10 });
    sim.pauseWebhooks();
    sim.approve(held.orderId);
    clock.advance(16 * 60_000);
    await server.worker.runDue(); // the hold expires
    // someone else takes every ticket
    const other = await paidHold(server, { eventId: held.eventId, quantity: 10 });
    await deliverAndProcess();
    expect(await bookingStatus(server, held.bookingId)).toBe('EXPIRED');
    expect(sim.captureCount(held.orderId)).toBe(0);
    expect(await ledgerOf(server, held.bookingId)).toEqual([]);
    expect(await bookingStatus(server, other.bookingId)).toBe('HELD');
    sim.resumeWebhooks();
  });

  it('ten parallel return visits plus the APPROVED and COMPLETED webhooks: one capture, one payment row, one confirmation (P5)', async () => {
    const held = await paidHold(server);
    const mine = fromNowOn();
    sim.pauseWebhooks();
    const back = await pressPayPalButton(server, held.orderId, 'approve');
    const results = await Promise.all([
      ...Array.from({ length: 10 }, () => visit(back)),
      deliverAndProcess().then(() => ({ body: { state: 'confirmed' } })),
    ]);
    await deliverAndProcess(); // the COMPLETED of the one capture (the APPROVED is long done)
    await deliverAndProcess();
    expect(results.map((r) => r.body.state)).toEqual(Array(11).fill('confirmed'));
    expect(sim.captureCount(held.orderId)).toBe(1);
    expect(await ledgerOf(server, held.bookingId)).toEqual([
      { kind: 'capture', status: 'COMPLETED', amount_minor: 5000 },
    ]);
    expect(mine.events().map((e) => e.event_type)).toEqual(['CHECKOUT.ORDER.APPROVED', 'PAYMENT.CAPTURE.COMPLETED']);
    const [confirmations] = await server.sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM bookings WHERE id = ? AND status = 'CONFIRMED' AND confirmed_at IS NOT NULL",
      [held.bookingId],
    );
    expect(confirmations?.n).toBe(1);
    expect(await expectBalanced(server, held.eventId)).toMatchObject({ sold: 2, held: 0, available: 8 });
    sim.resumeWebhooks();
  });

  it('every webhook delivered twice, REFUNDED before COMPLETED: the right final state, one side effect each (P8)', async () => {
    const held = await paidHold(server);
    const mine = fromNowOn();
    sim.pauseWebhooks();
    sim.duplicateWebhooks(3);
    const back = await pressPayPalButton(server, held.orderId, 'approve');
    expect((await visit(back)).body.state).toBe('confirmed');
    const captureId = sim.order(held.orderId)!.captures[0]!.id;
    sim.refundInDashboard(captureId); // the merchant refunds in PayPal's dashboard
    expect(mine.deliveries().map((d) => d.eventType)).toEqual([
      'CHECKOUT.ORDER.APPROVED',
      'CHECKOUT.ORDER.APPROVED',
      'PAYMENT.CAPTURE.COMPLETED',
      'PAYMENT.CAPTURE.COMPLETED',
      'PAYMENT.CAPTURE.REFUNDED',
      'PAYMENT.CAPTURE.REFUNDED',
    ]);
    await deliverAndProcess({ reverse: true }); // REFUNDED, REFUNDED, COMPLETED, COMPLETED, APPROVED, APPROVED
    expect(mine.deliveries().map((d) => d.state)).toEqual(Array(6).fill('delivered'));
    expect(await bookingStatus(server, held.bookingId)).toBe('REFUNDED');
    expect(await ledgerOf(server, held.bookingId)).toEqual([
      { kind: 'capture', status: 'COMPLETED', amount_minor: 5000 },
      { kind: 'refund', status: 'COMPLETED', amount_minor: 5000 },
    ]);
    expect(sim.captureCount(held.orderId)).toBe(1);
    expect(sim.order(held.orderId)!.captures[0]!.refunds).toHaveLength(1);
    const ids = new Set(mine.events().map((e) => e.id));
    const events = (await storedEvents()).filter((e) => ids.has(e.event_id));
    expect(events).toHaveLength(3);
    expect(events.every((e) => e.processed_at !== null)).toBe(true);
    // the event is ahead: the tickets are back on sale, once
    expect(await expectBalanced(server, held.eventId)).toMatchObject({ sold: 0, held: 0, available: 10 });
    sim.resumeWebhooks();
  });

  it('REFUNDED before COMPLETED for a capture whose answer was lost: the hold ends CANCELLED with the money back', async () => {
    const held = await paidHold(server);
    sim.pauseWebhooks();
    sim.duplicateWebhooks(3);
    const back = await pressPayPalButton(server, held.orderId, 'approve');
    sim.failNext('captureOrder', { when: 'after', times: 3 }); // captured at PayPal, every answer lost
    expect((await visit(back)).body.state).toBe('unavailable');
    sim.refundInDashboard(sim.order(held.orderId)!.captures[0]!.id);
    await deliverAndProcess({ reverse: true });
    expect(await bookingStatus(server, held.bookingId)).toBe('CANCELLED');
    expect(await ledgerOf(server, held.bookingId)).toEqual([
      { kind: 'capture', status: 'COMPLETED', amount_minor: 5000 },
      { kind: 'refund', status: 'COMPLETED', amount_minor: 5000 },
    ]);
    expect(sim.order(held.orderId)!.captures[0]!.refunds).toHaveLength(1);
    expect(await expectBalanced(server, held.eventId)).toMatchObject({ sold: 0, held: 0, available: 10 });
    sim.resumeWebhooks();
  });

  it('a chargeback (PAYMENT.CAPTURE.REVERSED) refunds the booking; the tickets go back on sale', async () => {
    const held = await paidHold(server);
    const back = await pressPayPalButton(server, held.orderId, 'approve');
    expect((await visit(back)).body.state).toBe('confirmed');
    await webhooksDelivered(sim);
    sim.reverseCapture(sim.order(held.orderId)!.captures[0]!.id);
    await webhooksDelivered(sim);
    await server.worker.runDue();
    expect(await bookingStatus(server, held.bookingId)).toBe('REFUNDED');
    const [refund] = await server.sql<{ source: string; status: string }>(
      'SELECT source, status FROM refund_requests WHERE booking_id = ?',
      [held.bookingId],
    );
    expect(refund).toEqual({ source: 'paypal', status: 'completed' });
    expect(await expectBalanced(server, held.eventId)).toMatchObject({ sold: 0, available: 10 });
  });

  it('a PENDING capture that PayPal then denies: PENDING and DENIED webhooks release the hold', async () => {
    const held = await paidHold(server);
    sim.queueCapture({ orderId: held.orderId, status: 'PENDING' });
    const back = await pressPayPalButton(server, held.orderId, 'approve');
    expect((await visit(back)).body.state).toBe('pending');
    await webhooksDelivered(sim);
    await server.worker.runDue();
    expect(await bookingStatus(server, held.bookingId)).toBe('HELD');
    sim.settleCapture(sim.order(held.orderId)!.captures[0]!.id, 'DECLINED');
    await webhooksDelivered(sim);
    expect(sim.webhookEvents().at(-1)?.event_type).toBe('PAYMENT.CAPTURE.DENIED');
    await server.worker.runDue();
    expect(await bookingStatus(server, held.bookingId)).toBe('CANCELLED');
    expect(await ledgerOf(server, held.bookingId)).toEqual([
      { kind: 'capture', status: 'DECLINED', amount_minor: 5000 },
    ]);
  });

  it('a listener that answers 5xx gets the delivery again on PayPal’s schedule', async () => {
    const brokenUrl = `${server.url}/no-such-listener`;
    server.deps.paypalSimulator!.addWebhook({ url: brokenUrl, id: WEBHOOK_ID });
    try {
      const held = await paidHold(server);
      sim.pauseWebhooks();
      sim.approve(held.orderId);
      await sim.deliverWebhooks();
      const toBroken = () => sim.webhookDeliveries().filter((d) => d.url.endsWith('/no-such-listener'));
      expect(toBroken().map((d) => [d.attempt, d.state, d.responseStatus])).toEqual([
        [1, 'failed', 404],
        [2, 'queued', null],
      ]);
      const [first, retry] = toBroken();
      expect(first!.eventId).toBe(retry!.eventId);
      const wait = Date.parse(retry!.dueAt) - Date.parse(first!.dueAt);
      expect(wait).toBeGreaterThanOrEqual(30_000);
      expect(wait).toBeLessThan(31_000);
      // the server itself got the event once, however often it is sent elsewhere
      const once = async () => (await storedEvents()).filter((e) => e.event_id === first!.eventId).length;
      expect(await once()).toBe(1);
      if (!simulatorOnOurClock()) return; // its clock cannot be moved from here
      clock.advance(30_000);
      await sim.deliverWebhooks();
      expect(toBroken().map((d) => d.attempt)).toEqual([1, 2, 3]);
      expect(await once()).toBe(1);
    } finally {
      server.deps.paypalSimulator!.removeWebhook(WEBHOOK_ID, brokenUrl);
      sim.resumeWebhooks();
    }
  });
});

describe('after all of the above', () => {
  it('every confirmed booking has one completed capture for its total, every refunded one its refund; counts balance; reconcile finds nothing', async () => {
    await webhooksDelivered(sim);
    await server.worker.runDue();
    const seen = await expectMoneyAndTicketsAgree(server);
    expect(seen.confirmed).toBeGreaterThan(0);
    expect(seen.refunded).toBeGreaterThan(0);
    const report = await reconcilePayments(server.deps.refunds, server.deps.orm.em.fork(), {
      sinceHours: 24 * 7,
      repair: false,
    });
    expect(report.unreachable).toBe(0);
    expect(report.mismatches).toEqual([]);
  });
});
