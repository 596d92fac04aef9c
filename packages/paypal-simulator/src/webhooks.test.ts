import { verify, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ListeningPayPalSimulator, listenPayPalSimulator, WEBHOOK_RETRY_DELAYS_MS } from './index.ts';
import type { Clock } from './state.ts';

function manualClock(start = new Date('2026-12-01T10:00:00Z')): Clock & { advance(ms: number): void } {
  let current = start.getTime();
  return {
    now: () => new Date(current),
    advance: (ms) => {
      current += ms;
    },
  };
}

const clock = manualClock();
let sim: ListeningPayPalSimulator;
let listener: Server;
let listenerUrl: string;
let received: { headers: Record<string, string>; body: string }[] = [];
/** What the listener answers next (then 200). */
let answers: number[] = [];
let token: string;

beforeAll(async () => {
  listener = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({ headers: req.headers as Record<string, string>, body });
      res.writeHead(answers.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  listenerUrl = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/hook`;
  sim = await listenPayPalSimulator({ faults: true, allowedRedirectPrefixes: [], clock });
  sim.addWebhook({ url: listenerUrl, id: 'WHSIMTEST01' });
});
// the retry test moves the clock by days: a fresh token for each test
beforeEach(async () => {
  const { clientId, clientSecret } = sim.credentials;
  const res = await fetch(`${sim.baseUrl}/v1/oauth2/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  token = ((await res.json()) as { access_token: string }).access_token;
});
afterAll(async () => {
  await sim.close();
  await new Promise((resolve) => listener.close(resolve));
});
beforeEach(() => {
  sim.controls.reset();
  received = [];
  answers = [];
});

type Payment = { id: string; status: string; amount?: { value: string } };
/** The parts of the simulator's Orders v2 and Payments answers these tests read. */
type PayPalAnswer = {
  id?: string;
  status?: string;
  amount?: { value: string };
  purchase_units?: { payments: { captures?: Payment[]; refunds?: Payment[] } }[];
};

async function api(method: string, path: string, body?: unknown, requestId?: string) {
  const res = await fetch(`${sim.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      prefer: 'return=representation',
      ...(requestId ? { 'paypal-request-id': requestId } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as PayPalAnswer };
}

async function capturedOrder() {
  const created = await api('POST', '/v2/checkout/orders', {
    intent: 'CAPTURE',
    purchase_units: [{ amount: { currency_code: 'EUR', value: '20.00' }, custom_id: 'booking-1' }],
  });
  if (!created.body.id) throw new Error(JSON.stringify(created.body));
  sim.controls.approve(created.body.id);
  const captured = await api('POST', `/v2/checkout/orders/${created.body.id}/capture`, {}, 'capture:1');
  return {
    orderId: created.body.id as string,
    captureId: captured.body.purchase_units?.[0]?.payments.captures?.[0]?.id as string,
  };
}

const settle = async () => {
  for (let i = 0; i < 200 && sim.controls.webhookDeliveries().some((d) => d.state === 'sending'); i++)
    await new Promise((resolve) => setTimeout(resolve, 5));
  await sim.controls.deliverWebhooks();
};

describe('webhooks', () => {
  it('serves its certificate and signs transmissionId|time|webhookId|crc32(body) with its key', async () => {
    const res = await fetch(sim.webhookCertificateUrl);
    expect(res.status).toBe(200);
    const pem = await res.text();
    expect(pem).toBe(sim.webhookCertificatePem);
    expect((await fetch(`${sim.baseUrl}/v1/notifications/certs/CERT-OTHER`)).status).toBe(404);
    await capturedOrder();
    await settle();
    const types = received.map((r) => JSON.parse(r.body).event_type);
    expect(types).toEqual(['CHECKOUT.ORDER.APPROVED', 'PAYMENT.CAPTURE.COMPLETED']);
    const cert = new X509Certificate(pem);
    for (const { headers, body } of received) {
      expect(headers['paypal-cert-url']).toBe(sim.webhookCertificateUrl);
      expect(headers['paypal-auth-algo']).toBe('SHA256withRSA');
      const message = `${headers['paypal-transmission-id']}|${headers['paypal-transmission-time']}|WHSIMTEST01|${crc32(body)}`;
      const signature = Buffer.from(headers['paypal-transmission-sig'] ?? '', 'base64');
      expect(verify('sha256', Buffer.from(message), cert.publicKey, signature)).toBe(true);
    }
    const capture = JSON.parse(received[1]!.body).resource;
    expect(capture).toMatchObject({ status: 'COMPLETED', amount: { value: '20.00' }, custom_id: 'booking-1' });
  });

  it('retries a delivery that is not answered 2xx on PayPal’s schedule: 25 retries over about three days', async () => {
    expect(WEBHOOK_RETRY_DELAYS_MS).toHaveLength(25);
    const days = WEBHOOK_RETRY_DELAYS_MS.reduce((sum, ms) => sum + ms, 0) / 86_400_000;
    expect(days).toBeGreaterThan(2.5);
    expect(days).toBeLessThan(3.5);
    answers = Array(30).fill(500);
    sim.controls.pauseWebhooks();
    const created = await api('POST', '/v2/checkout/orders', {
      intent: 'CAPTURE',
      purchase_units: [{ amount: { currency_code: 'EUR', value: '5.00' } }],
    });
    sim.controls.approve(created.body.id as string);
    await sim.controls.deliverWebhooks();
    for (const delay of WEBHOOK_RETRY_DELAYS_MS) {
      expect(await sim.controls.deliverWebhooks()).toBe(0); // not due yet
      clock.advance(delay);
      expect(await sim.controls.deliverWebhooks()).toBe(1);
    }
    const deliveries = sim.controls.webhookDeliveries();
    expect(deliveries.map((d) => d.attempt)).toEqual(Array.from({ length: 26 }, (_, i) => i + 1));
    expect(deliveries.every((d) => d.state === 'failed' && d.responseStatus === 500)).toBe(true);
    expect(new Set(deliveries.map((d) => d.eventId)).size).toBe(1);
    expect(new Set(deliveries.map((d) => d.transmissionId)).size).toBe(26);
    clock.advance(7 * 86_400_000);
    expect(await sim.controls.deliverWebhooks()).toBe(0); // given up
    sim.controls.resumeWebhooks();
  });

  it('duplicates, delays and reorders on request; a dashboard refund and a chargeback send their own events', async () => {
    sim.controls.pauseWebhooks();
    sim.controls.duplicateWebhooks(1);
    const { orderId, captureId } = await capturedOrder();
    expect(sim.controls.webhookDeliveries().map((d) => d.eventType)).toEqual([
      'CHECKOUT.ORDER.APPROVED',
      'CHECKOUT.ORDER.APPROVED',
      'PAYMENT.CAPTURE.COMPLETED',
    ]);
    sim.controls.delayWebhooks(60_000);
    const refund = sim.controls.refundInDashboard(captureId);
    expect(await sim.controls.deliverWebhooks({ reverse: true })).toBe(3); // the refund's is not due yet
    expect(received.map((r) => JSON.parse(r.body).event_type)).toEqual([
      'PAYMENT.CAPTURE.COMPLETED',
      'CHECKOUT.ORDER.APPROVED',
      'CHECKOUT.ORDER.APPROVED',
    ]);
    clock.advance(60_000);
    await sim.controls.deliverWebhooks();
    const refunded = JSON.parse(received.at(-1)!.body);
    expect(refunded).toMatchObject({
      event_type: 'PAYMENT.CAPTURE.REFUNDED',
      resource: { id: refund.id, status: 'COMPLETED' },
    });
    expect(refunded.resource.links).toContainEqual(
      expect.objectContaining({ rel: 'up', href: expect.stringContaining(captureId) }),
    );
    const order = await api('GET', `/v2/checkout/orders/${orderId}`);
    expect(order.body.purchase_units?.[0]?.payments.refunds).toMatchObject([{ id: refund.id, status: 'COMPLETED' }]);
    expect(() => sim.controls.reverseCapture(captureId)).toThrow(/nothing to refund/);
    const second = await capturedOrder();
    sim.controls.reverseCapture(second.captureId);
    await sim.controls.deliverWebhooks();
    expect(JSON.parse(received.at(-1)!.body).event_type).toBe('PAYMENT.CAPTURE.REVERSED');
    sim.controls.resumeWebhooks();
  });

  it('a refund queued to fail answers FAILED, moves no money, and is replayed for its request id', async () => {
    const { captureId } = await capturedOrder();
    sim.controls.queueRefund({ captureId, status: 'FAILED' });
    const failed = await api('POST', `/v2/payments/captures/${captureId}/refund`, {}, 'refund:1');
    expect(failed.body.status).toBe('FAILED');
    expect(sim.controls.capture(captureId)?.status).toBe('COMPLETED');
    expect((await api('POST', `/v2/payments/captures/${captureId}/refund`, {}, 'refund:1')).body).toEqual(failed.body);
    const retried = await api('POST', `/v2/payments/captures/${captureId}/refund`, {}, 'refund:1:2');
    expect(retried.body).toMatchObject({ status: 'COMPLETED', amount: { value: '20.00' } });
    expect(sim.controls.capture(captureId)?.status).toBe('REFUNDED');
  });
});
