import { randomUUID, verify, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import { createPayPalSimulator } from '@boxoffice/paypal-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../lib/clock.ts';
import { createLogger } from '../../logger.ts';
import {
  type CertificateTrust,
  createWebhookVerifier,
  PAYPAL_CERT_PREFIXES,
  trustedCertificateUrl,
  WebhookVerificationError,
} from './verifier.ts';

// A simulator is the signer here: its key signs, its certificate (PEM) is what a listener fetches.
const clock = manualClock(new Date());
const sim = createPayPalSimulator({ publicUrl: 'http://sim.test/paypal-sim', allowedRedirectPrefixes: [], clock });

const WEBHOOK_ID = 'WH1234567890';
const log = createLogger('silent');

/** A certificate server on loopback: serves PEM, redirects, or answers whatever a test wants. */
let certServer: Server;
let certOrigin: string;
const served: string[] = [];
let answer: (path: string) => { status: number; headers?: Record<string, string>; body?: string } = () => ({
  status: 200,
  body: sim.webhookCertificatePem,
});
beforeAll(async () => {
  certServer = createServer((req, res) => {
    served.push(req.url ?? '');
    const reply = answer(req.url ?? '');
    res.writeHead(reply.status, reply.headers ?? {});
    res.end(reply.body ?? '');
  });
  await new Promise<void>((resolve) => certServer.listen(0, '127.0.0.1', resolve));
  certOrigin = `http://127.0.0.1:${(certServer.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await sim.close();
  await new Promise((resolve) => certServer.close(resolve));
});

/** What PayPal (here: the simulator) sends, signed by the simulator: delivered to a local listener. */
async function signedBySimulator() {
  const received: { headers: Headers; body: Uint8Array }[] = [];
  const listener = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: new Headers(req.headers as Record<string, string>), body: Buffer.concat(chunks) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const hook = sim.addWebhook({ url: `http://127.0.0.1:${(listener.address() as AddressInfo).port}/`, id: WEBHOOK_ID });
  sim.controls.reset();
  // an approval is the simplest thing that makes the simulator send a webhook
  const order = await createOrder();
  sim.controls.approve(order);
  for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  sim.removeWebhook(hook.id);
  await new Promise((resolve) => listener.close(resolve));
  const delivery = received[0];
  if (!delivery) throw new Error('the simulator delivered nothing');
  return delivery;
}

async function createOrder(): Promise<string> {
  const { clientId, clientSecret } = sim.credentials;
  const token = await sim.app.request('/v1/oauth2/token', {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  const { access_token } = (await token.json()) as { access_token: string };
  const created = await sim.app.request('/v2/checkout/orders', {
    method: 'POST',
    headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      intent: 'CAPTURE',
      purchase_units: [{ amount: { currency_code: 'EUR', value: '10.00' }, custom_id: randomUUID() }],
    }),
  });
  return ((await created.json()) as { id: string }).id;
}

function verifierFor(trust: CertificateTrust, fetchLog: string[] = []) {
  return createWebhookVerifier({
    webhookId: WEBHOOK_ID,
    trust,
    clock,
    log,
    timeoutMs: 300,
    fetch: async (input, init) => {
      fetchLog.push(String(input));
      return fetch(input, init);
    },
  });
}

const pinnedTrust = (): CertificateTrust => ({
  prefixes: [],
  requirePayPalChain: false,
  pinned: { url: sim.webhookCertificateUrl, pem: sim.webhookCertificatePem },
});

async function refusal(promise: Promise<unknown>): Promise<WebhookVerificationError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof WebhookVerificationError)) throw new Error(`expected a refusal, got ${String(error)}`);
  return error;
}

describe('webhook signatures', () => {
  it('accepts what the simulator signed for our webhook, and nothing that differs by a byte', async () => {
    const delivery = await signedBySimulator();
    const fetched: string[] = [];
    const verifier = verifierFor(pinnedTrust(), fetched);
    expect(delivery.headers.get('paypal-auth-algo')).toBe('SHA256withRSA');
    expect(delivery.headers.get('paypal-cert-url')).toBe(sim.webhookCertificateUrl);
    await expect(verifier.verify(delivery.headers, delivery.body)).resolves.toMatchObject({
      transmissionId: delivery.headers.get('paypal-transmission-id'),
    });

    const changed = Buffer.from(delivery.body);
    changed[changed.length - 2] = (changed[changed.length - 2] as number) ^ 1;
    expect((await refusal(verifier.verify(delivery.headers, changed))).reason).toBe('signature_mismatch');

    const badSig = new Headers(delivery.headers);
    const sig = delivery.headers.get('paypal-transmission-sig') as string;
    badSig.set('paypal-transmission-sig', `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`);
    expect((await refusal(verifier.verify(badSig, delivery.body))).reason).toBe('signature_mismatch');

    const otherTime = new Headers(delivery.headers);
    otherTime.set('paypal-transmission-time', new Date(Date.now() + 1000).toISOString());
    expect((await refusal(verifier.verify(otherTime, delivery.body))).kind).toBe('invalid');

    // signed for someone else's webhook
    const otherWebhook = createWebhookVerifier({ webhookId: 'WHOTHER', trust: pinnedTrust(), clock, log });
    expect((await refusal(otherWebhook.verify(delivery.headers, delivery.body))).reason).toBe('signature_mismatch');

    const missing = new Headers(delivery.headers);
    missing.delete('paypal-transmission-id');
    expect((await refusal(verifier.verify(missing, delivery.body))).reason).toBe('headers_missing');
    const algo = new Headers(delivery.headers);
    algo.set('paypal-auth-algo', 'SHA1withRSA');
    expect((await refusal(verifier.verify(algo, delivery.body))).reason).toBe('auth_algo_unsupported');
    // pinned: nothing was ever fetched
    expect(fetched).toEqual([]);
  });

  it('a key of the sender’s own behind a certificate URL outside the trusted hosts is never fetched', async () => {
    const delivery = await signedBySimulator();
    const fetched: string[] = [];
    const verifier = verifierFor(pinnedTrust(), fetched);
    for (const url of [
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      `${certOrigin}/v1/notifications/certs/CERT-1`,
      'https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1',
      'https://api.paypal.com@evil.example/v1/notifications/certs/CERT-1',
      `${sim.webhookCertificateUrl}?x=1`,
      `${sim.webhookCertificateUrl}/../../../../admin`,
      'file:///etc/passwd',
      'not a url',
    ]) {
      const forged = new Headers(delivery.headers);
      forged.set('paypal-cert-url', url);
      expect((await refusal(verifier.verify(forged, delivery.body))).reason, url).toBe('certificate_url_not_trusted');
    }
    expect(fetched).toEqual([]);
    expect(served).toEqual([]);
  });

  it('lets through only certificate URLs directly under a trusted prefix', () => {
    const live = PAYPAL_CERT_PREFIXES.live;
    expect(
      trustedCertificateUrl('https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77', live),
    ).not.toBeNull();
    expect(trustedCertificateUrl('https://api-m.paypal.com/v1/notifications/certs/CERT-1', live)).not.toBeNull();
    for (const url of [
      'http://api.paypal.com/v1/notifications/certs/CERT-1',
      'https://api.paypal.com:8443/v1/notifications/certs/CERT-1',
      'https://api.paypal.com/v1/notifications/certs/a/b',
      'https://api.paypal.com/v1/notifications/certs/%2e%2e',
      'https://api.paypal.com/v1/notifications/other/CERT-1',
      'https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1',
      'https://user:pw@api.paypal.com/v1/notifications/certs/CERT-1',
      'https://api.paypal.com/v1/notifications/certs/CERT-1#x',
    ])
      expect(trustedCertificateUrl(url, live), url).toBeNull();
  });

  it('a trusted host that redirects (say, to the metadata endpoint) is refused and the redirect not followed', async () => {
    const delivery = await signedBySimulator();
    answer = () => ({ status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data/' } });
    served.length = 0;
    const fetched: string[] = [];
    const verifier = verifierFor(
      { prefixes: [`${certOrigin}/v1/notifications/certs/`], requirePayPalChain: false },
      fetched,
    );
    const headers = new Headers(delivery.headers);
    headers.set('paypal-cert-url', `${certOrigin}/v1/notifications/certs/CERT-REDIRECT`);
    expect((await refusal(verifier.verify(headers, delivery.body))).reason).toBe('certificate_redirected');
    expect(fetched).toEqual([`${certOrigin}/v1/notifications/certs/CERT-REDIRECT`]);
    expect(served).toEqual(['/v1/notifications/certs/CERT-REDIRECT']);
  });

  it('fetches a trusted certificate once (cached), refuses an oversized one, and asks for a retry when it cannot be fetched', async () => {
    const delivery = await signedBySimulator();
    const trust: CertificateTrust = { prefixes: [`${certOrigin}/v1/notifications/certs/`], requirePayPalChain: false };
    const at = (name: string) => {
      const headers = new Headers(delivery.headers);
      headers.set('paypal-cert-url', `${certOrigin}/v1/notifications/certs/${name}`);
      return headers;
    };
    answer = () => ({ status: 200, body: sim.webhookCertificatePem });
    served.length = 0;
    const verifier = verifierFor(trust);
    await Promise.all([verifier.verify(at('CERT-A'), delivery.body), verifier.verify(at('CERT-A'), delivery.body)]);
    await verifier.verify(at('CERT-A'), delivery.body);
    expect(served).toEqual(['/v1/notifications/certs/CERT-A']);

    answer = () => ({ status: 200, body: `${sim.webhookCertificatePem}${' '.repeat(20_000)}` });
    expect((await refusal(verifier.verify(at('CERT-BIG'), delivery.body))).reason).toBe('certificate_too_large');

    answer = () => ({ status: 503 });
    expect((await refusal(verifier.verify(at('CERT-DOWN'), delivery.body))).kind).toBe('unavailable');

    answer = () => ({ status: 200, body: 'not a certificate' });
    expect((await refusal(verifier.verify(at('CERT-JUNK'), delivery.body))).reason).toBe('certificate_unreadable');

    const slow = createWebhookVerifier({
      webhookId: WEBHOOK_ID,
      trust,
      clock,
      log,
      timeoutMs: 50,
      fetch: (_input, init) =>
        new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted')))),
    });
    expect((await refusal(slow.verify(at('CERT-SLOW'), delivery.body))).kind).toBe('unavailable');
  });

  it('real PayPal mode refuses a self-signed certificate in PayPal’s name (it must chain to a public root)', async () => {
    const delivery = await signedBySimulator();
    const verifier = createWebhookVerifier({
      webhookId: WEBHOOK_ID,
      trust: { prefixes: [`${certOrigin}/v1/notifications/certs/`], requirePayPalChain: true },
      clock,
      log,
    });
    answer = () => ({ status: 200, body: sim.webhookCertificatePem });
    const headers = new Headers(delivery.headers);
    headers.set('paypal-cert-url', `${certOrigin}/v1/notifications/certs/CERT-SELF`);
    // the simulator's certificate is not a paypal.com message-verification certificate
    expect((await refusal(verifier.verify(headers, delivery.body))).reason).toBe('certificate_not_paypal');
  });

  it('signs exactly transmissionId|transmissionTime|webhookId|crc32(body) in decimal', async () => {
    const delivery = await signedBySimulator();
    const cert = new X509Certificate(sim.webhookCertificatePem);
    const message = [
      delivery.headers.get('paypal-transmission-id'),
      delivery.headers.get('paypal-transmission-time'),
      WEBHOOK_ID,
      String(crc32(delivery.body)),
    ].join('|');
    expect(
      verify(
        'sha256',
        Buffer.from(message),
        cert.publicKey,
        Buffer.from(delivery.headers.get('paypal-transmission-sig') ?? '', 'base64'),
      ),
    ).toBe(true);
  });
});
