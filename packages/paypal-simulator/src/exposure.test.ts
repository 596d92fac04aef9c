import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPayPalSimulator,
  FaultsDisabledError,
  type ListeningPayPalSimulator,
  listenPayPalSimulator,
} from './index.ts';
import { createRedirectPolicy } from './redirects.ts';

// The simulator as it runs on a public host: no faults, random merchant credentials, and an
// allowlist for the places the approval page may send a buyer.
const RETURN = 'https://tickets.example/payments/paypal/return';
const CANCEL = 'https://tickets.example/payments/paypal/cancel';

let sim: ListeningPayPalSimulator;
let token: string;

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

async function tokenCall(id: string, secret: string) {
  return fetch(`${sim.baseUrl}/v1/oauth2/token`, {
    method: 'POST',
    headers: { authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
}

async function api(method: string, path: string, body?: unknown, auth = `Bearer ${token}`) {
  const response = await fetch(`${sim.baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: auth },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

let invoices = 0;
function orderBody(experience: Record<string, unknown> = {}) {
  invoices += 1;
  return {
    intent: 'CAPTURE',
    purchase_units: [{ amount: { currency_code: 'EUR', value: '42.00' }, invoice_id: `booking-${invoices}` }],
    payment_source: {
      paypal: { experience_context: { return_url: `${RETURN}?ref=r1`, cancel_url: `${CANCEL}?ref=r1`, ...experience } },
    },
  };
}

async function createOrder(experience: Record<string, unknown> = {}): Promise<string> {
  const created = await api('POST', '/v2/checkout/orders', orderBody(experience));
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id;
}

const page = async (path: string, form?: Record<string, string>) => {
  const response = await fetch(`${sim.origin}${path}`, {
    method: form ? 'POST' : 'GET',
    body: form ? new URLSearchParams(form) : undefined,
    redirect: 'manual',
  });
  return { status: response.status, location: response.headers.get('location'), html: await response.text() };
};

const links = (html: string) => [...html.matchAll(/<a class="back" href="([^"]*)">([^<]*)<\/a>/g)].map((m) => m[1]);

beforeAll(async () => {
  sim = await listenPayPalSimulator({ allowedRedirectPrefixes: [RETURN, CANCEL] });
  const { clientId, clientSecret } = sim.credentials;
  token = (await (await tokenCall(clientId, clientSecret)).json()).access_token;
});
afterAll(() => sim.close());

describe('merchant credentials', () => {
  it('are random per simulator unless given', () => {
    const other = createPayPalSimulator({ publicUrl: 'http://127.0.0.1:1/paypal-sim', allowedRedirectPrefixes: [] });
    expect(sim.credentials.clientSecret).toMatch(/^[\w-]{43}$/);
    expect(other.credentials.clientSecret).not.toBe(sim.credentials.clientSecret);
    expect(other.credentials.clientId).not.toBe(sim.credentials.clientId);
    expect(() =>
      createPayPalSimulator({ publicUrl: 'http://127.0.0.1:1', allowedRedirectPrefixes: [], clientId: 'only-id' }),
    ).toThrow(/together/);
  });

  it('the old built-in constants get 401, and so does every merchant endpoint without a token from the real ones', async () => {
    const old = await tokenCall('sim-client-id', 'sim-client-secret');
    expect(old.status).toBe(401);
    expect(await old.json()).toMatchObject({ error: 'invalid_client' });

    const id = await createOrder();
    sim.controls.approve(id);
    const captured = await api('POST', `/v2/checkout/orders/${id}/capture`, {});
    const captureId = captured.body.purchase_units[0].payments.captures[0].id;
    const oldBasic = basic('sim-client-id', 'sim-client-secret');
    for (const [method, path, body] of [
      ['POST', '/v2/checkout/orders', orderBody()],
      ['GET', `/v2/checkout/orders/${id}`],
      ['POST', `/v2/checkout/orders/${id}/capture`, {}],
      ['GET', `/v2/payments/captures/${captureId}`],
      ['POST', `/v2/payments/captures/${captureId}/refund`, {}],
    ] as const) {
      expect((await api(method, path, body, oldBasic)).status, `${method} ${path}`).toBe(401);
      expect((await api(method, path, body, 'Bearer A21AAguessed')).status, `${method} ${path}`).toBe(401);
    }
    expect(sim.controls.capture(captureId)).toMatchObject({ status: 'COMPLETED', refunds: [] });
  });
});

describe('redirects', () => {
  it.each([
    ['another host', 'https://evil.example/payments/paypal/return'],
    ['a look-alike host', 'https://tickets.example.evil.example/payments/paypal/return'],
    ['credentials in the URL', 'https://tickets.example@evil.example/payments/paypal/return'],
    ['another scheme', 'http://tickets.example/payments/paypal/return'],
    ['another port', 'https://tickets.example:8443/payments/paypal/return'],
    ['a sibling path', 'https://tickets.example/payments/paypal/returned'],
    ['dot segments out of the prefix', 'https://tickets.example/payments/paypal/return/../../../logout'],
  ])('refuses a return_url on %s at create, and makes no order', async (_name, url) => {
    const before = sim.controls.orders().length;
    const refused = await api('POST', '/v2/checkout/orders', orderBody({ return_url: url }));
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ name: 'UNPROCESSABLE_ENTITY', debug_id: expect.any(String) });
    expect(refused.body.details[0]).toMatchObject({
      issue: 'REDIRECT_URL_NOT_ALLOWED',
      field: '/payment_source/paypal/experience_context/return_url',
    });
    expect(sim.controls.orders()).toHaveLength(before);
  });

  it('refuses an outside cancel_url, also in the legacy application_context', async () => {
    const refused = await api('POST', '/v2/checkout/orders', {
      intent: 'CAPTURE',
      purchase_units: [{ amount: { currency_code: 'EUR', value: '1.00' } }],
      application_context: { return_url: RETURN, cancel_url: 'https://evil.example/' },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.details[0].field).toBe('/application_context/cancel_url');
  });

  it('accepts URLs under a prefix, query and fragment included, and redirects there only', async () => {
    const id = await createOrder({ return_url: `${RETURN}?ref=a.b#x` });
    const approved = await page('/paypal-sim/checkoutnow/approve', { token: id });
    expect(approved.status).toBe(303);
    expect(approved.location).toMatch(new RegExp(`^${RETURN}\\?ref=a\\.b&token=${id}&PayerID=[A-Z0-9]{13}#x$`));
  });

  it('a prefix added later is honoured; the policy matches at path segment boundaries', () => {
    const policy = createRedirectPolicy(['https://a.example/pay']);
    expect(policy.allows('https://a.example/pay')).toBe(true);
    expect(policy.allows('https://a.example/pay/return?x=1')).toBe(true);
    expect(policy.allows('https://a.example/payback')).toBe(false);
    expect(policy.allows('https://b.example/pay')).toBe(false);
    policy.allow('https://b.example/pay');
    expect(policy.allows('https://b.example/pay')).toBe(true);
    expect(() => policy.allow('javascript:alert(1)')).toThrow();
    expect(() => policy.allow('not a url')).toThrow();
  });
});

describe('fault injection is off unless asked for', () => {
  it('has no /__sim routes and its fault controls throw', async () => {
    expect((await fetch(`${sim.baseUrl}/__sim/orders`)).status).toBe(404);
    const fail = await fetch(`${sim.baseUrl}/__sim/fail`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ operation: 'refundCapture' }),
    });
    expect(fail.status).toBe(404);
    expect(() => sim.controls.failNext('createOrder')).toThrow(FaultsDisabledError);
    expect(() => sim.controls.hangNext('createOrder', { ms: 10 })).toThrow(FaultsDisabledError);
    expect(() => sim.controls.queueCapture({ status: 'PENDING' })).toThrow(FaultsDisabledError);
    expect(() => sim.controls.revokeTokens()).toThrow(FaultsDisabledError);
    expect((await api('POST', '/v2/checkout/orders', orderBody())).status).toBe(201);
  });
});

describe('dead ends give the buyer a way on', () => {
  it('an unknown checkout says nothing was charged and what to do', async () => {
    const { status, html } = await page('/paypal-sim/checkoutnow?token=NOSUCHORDER');
    expect(status).toBe(404);
    expect(html).toContain('Nothing was charged');
    expect(html).toContain('start the payment again from your booking');
    expect(html).toContain('PayPal Sandbox Simulator');
  });

  it('links back to the shop when the simulator knows a home page', async () => {
    const withHome = await listenPayPalSimulator({
      allowedRedirectPrefixes: [],
      homeUrl: 'https://tickets.example/',
    });
    try {
      const html = await (await fetch(`${withHome.baseUrl}/checkoutnow?token=GONE`)).text();
      expect(links(html)).toEqual(['https://tickets.example/']);
    } finally {
      await withHome.close();
    }
  });

  it('an approved or captured order links to the return page with token and PayerID', async () => {
    const id = await createOrder();
    const payerId = sim.controls.approve(id).payer?.payerId;
    const expected = `${RETURN}?ref=r1&amp;token=${id}&amp;PayerID=${payerId}`;
    const approved = await page(`/paypal-sim/checkoutnow?token=${id}`);
    expect(approved.html).toContain('already approved');
    expect(links(approved.html)).toEqual([expected]);
    await api('POST', `/v2/checkout/orders/${id}/capture`, {});
    const complete = await page(`/paypal-sim/checkoutnow?token=${id}`);
    expect(complete.html).toContain('is complete');
    expect(links(complete.html)).toEqual([expected]);
    const again = await page('/paypal-sim/checkoutnow/approve', { token: id });
    expect(again.status).toBe(409);
    expect(links(again.html)).toEqual([expected]);
  });

  it('without return or cancel URLs the buyer is told to close the window', async () => {
    const created = await api('POST', '/v2/checkout/orders', {
      intent: 'CAPTURE',
      purchase_units: [{ amount: { currency_code: 'EUR', value: '5.00' } }],
    });
    const approved = await page('/paypal-sim/checkoutnow/approve', { token: created.body.id });
    expect(approved.status).toBe(200);
    expect(approved.html).toContain('You can close this window and go back to Boxoffice.');
    const cancelled = await page('/paypal-sim/checkoutnow/cancel', { token: created.body.id });
    expect(cancelled.html).toContain('Nothing was charged');
    expect(cancelled.html).toContain('You can close this window');
  });
});
