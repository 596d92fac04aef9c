import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appendQuery, type ListeningPayPalSimulator, type ListenOptions, listenPayPalSimulator } from './index.ts';
import type { Clock } from './state.ts';

let sim: ListeningPayPalSimulator;
let token: string;

/** Where the orders below send the buyer back to. */
const SHOP = ['https://shop.example/'];

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

function manualClock(start = new Date('2026-12-01T10:00:00Z')): Clock & { advance(ms: number): void } {
  let current = start.getTime();
  return {
    now: () => new Date(current),
    advance: (ms) => {
      current += ms;
    },
  };
}

const listen = (opts: Partial<ListenOptions> = {}) =>
  listenPayPalSimulator({ faults: true, allowedRedirectPrefixes: SHOP, ...opts });

async function tokenFor(target: ListeningPayPalSimulator): Promise<string> {
  const { clientId, clientSecret } = target.credentials;
  const response = await fetch(`${target.baseUrl}/v1/oauth2/token`, {
    method: 'POST',
    headers: { authorization: basic(clientId, clientSecret) },
    body: 'grant_type=client_credentials',
  });
  return (await response.json()).access_token;
}

async function fetchToken(
  id = sim.credentials.clientId,
  secret = sim.credentials.clientSecret,
  body = 'grant_type=client_credentials',
) {
  return fetch(`${sim.baseUrl}/v1/oauth2/token`, {
    method: 'POST',
    headers: { authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
}

async function api(
  method: string,
  path: string,
  init: { body?: unknown; headers?: Record<string, string>; auth?: string | null } = {},
) {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...init.headers };
  if (init.auth !== null) headers.authorization = init.auth ?? `Bearer ${token}`;
  const response = await fetch(`${sim.baseUrl}${path}`, {
    method,
    headers,
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const orderBody = (overrides: Record<string, unknown> = {}, unit: Record<string, unknown> = {}) => ({
  intent: 'CAPTURE',
  purchase_units: [
    {
      amount: { currency_code: 'USD', value: '25.00' },
      custom_id: 'booking-1',
      invoice_id: 'booking-1',
      description: 'Two tickets',
      ...unit,
    },
  ],
  payment_source: {
    paypal: {
      experience_context: {
        return_url: 'https://shop.example/payments/paypal/return?ref=abc.def',
        cancel_url: 'https://shop.example/payments/paypal/cancel?ref=abc.def',
        user_action: 'PAY_NOW',
      },
    },
  },
  ...overrides,
});

async function createOrder(overrides: Record<string, unknown> = {}, unit: Record<string, unknown> = {}) {
  const created = await api('POST', '/v2/checkout/orders', { body: orderBody(overrides, unit) });
  expect(created.status).toBe(201);
  return created.body.id as string;
}

async function postForm(path: string, form: Record<string, string>) {
  return fetch(`${sim.origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
  });
}

beforeAll(async () => {
  sim = await listen();
  token = (await (await fetchToken()).json()).access_token;
});
afterEach(() => sim.controls.reset());
afterAll(() => sim.close());

describe('OAuth token', () => {
  it('issues a bearer token for the configured client credentials', async () => {
    const response = await fetchToken();
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({ token_type: 'Bearer', app_id: expect.any(String), nonce: expect.any(String) });
    expect(body.access_token).toMatch(/^A21AA/);
    expect(body.expires_in).toBeGreaterThan(0);
    expect(body.scope).toContain('payments');
  });

  it('refuses wrong or missing credentials with invalid_client', async () => {
    const wrong = await fetchToken(sim.credentials.clientId, 'not-the-secret');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });
    const missing = await fetch(`${sim.baseUrl}/v1/oauth2/token`, {
      method: 'POST',
      body: 'grant_type=client_credentials',
    });
    expect(missing.status).toBe(401);
  });

  it('requires grant_type=client_credentials', async () => {
    const response = await fetchToken(sim.credentials.clientId, sim.credentials.clientSecret, 'grant_type=password');
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'unsupported_grant_type' });
  });

  it('rejects API calls without a valid bearer token', async () => {
    const none = await api('POST', '/v2/checkout/orders', { body: orderBody(), auth: null });
    expect(none.status).toBe(401);
    expect(none.body.name).toBe('AUTHENTICATION_FAILURE');
    const bogus = await api('GET', '/v2/checkout/orders/ABC', { auth: 'Bearer A21AAnot-issued' });
    expect(bogus.status).toBe(401);
    expect(bogus.body.error).toBe('invalid_token');
    expect(sim.controls.orders()).toHaveLength(0);
  });
});

describe('create order', () => {
  it('answers PAYER_ACTION_REQUIRED with a payer-action link for payment_source.paypal', async () => {
    const created = await api('POST', '/v2/checkout/orders', { body: orderBody() });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('PAYER_ACTION_REQUIRED');
    expect(created.body.purchase_units).toBeUndefined();
    const rels = created.body.links.map((l: { rel: string }) => l.rel);
    expect(rels).toEqual(['self', 'payer-action']);
    const action = created.body.links[1];
    expect(action).toEqual({
      href: `${sim.baseUrl}/checkoutnow?token=${created.body.id}`,
      rel: 'payer-action',
      method: 'GET',
    });
    expect(created.body.id).toMatch(/^[A-Z0-9]{17}$/);
  });

  it('answers CREATED with an approve link for the legacy application_context', async () => {
    const created = await api('POST', '/v2/checkout/orders', {
      body: orderBody({
        payment_source: undefined,
        application_context: { return_url: 'https://shop.example/r', cancel_url: 'https://shop.example/c' },
      }),
      headers: { prefer: 'return=representation' },
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('CREATED');
    expect(created.body.links.map((l: { rel: string }) => l.rel)).toEqual(['self', 'approve', 'update', 'capture']);
    expect(created.body.purchase_units[0]).toMatchObject({
      amount: { currency_code: 'USD', value: '25.00' },
      custom_id: 'booking-1',
      invoice_id: 'booking-1',
      description: 'Two tickets',
    });
    expect(sim.controls.order(created.body.id)?.returnUrl).toBe('https://shop.example/r');
  });

  it('normalises amounts to two decimals, none for JPY', async () => {
    const usd = await createOrder({}, { amount: { currency_code: 'USD', value: '7' } });
    const jpy = await createOrder({}, { amount: { currency_code: 'JPY', value: '2500' }, invoice_id: 'booking-2' });
    expect(sim.controls.order(usd)?.amount.value).toBe('7.00');
    expect(sim.controls.order(jpy)?.amount.value).toBe('2500');
  });

  it('returns the same order for a repeated PayPal-Request-Id', async () => {
    const headers = { 'paypal-request-id': 'create:booking-1' };
    const first = await api('POST', '/v2/checkout/orders', { body: orderBody(), headers });
    const second = await api('POST', '/v2/checkout/orders', { body: orderBody(), headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(sim.controls.orders()).toHaveLength(1);
    expect(sim.controls.counts().createOrder).toBe(2);
  });

  it.each([
    ['missing intent', { intent: undefined }, {}, 400, 'MISSING_REQUIRED_PARAMETER', '/intent'],
    ['unknown intent', { intent: 'BUY' }, {}, 400, 'INVALID_PARAMETER_VALUE', '/intent'],
    ['no purchase units', { purchase_units: [] }, {}, 400, 'INVALID_ARRAY_MIN_ITEMS', '/purchase_units'],
    [
      'missing amount value',
      {},
      { amount: { currency_code: 'USD' } },
      400,
      'MISSING_REQUIRED_PARAMETER',
      '/purchase_units/0/amount/value',
    ],
    [
      'amount as a number',
      {},
      { amount: { currency_code: 'USD', value: 25 } },
      400,
      'INVALID_PARAMETER_SYNTAX',
      '/purchase_units/0/amount/value',
    ],
    [
      'custom_id too long',
      {},
      { custom_id: 'x'.repeat(128) },
      400,
      'INVALID_STRING_LENGTH',
      '/purchase_units/0/custom_id',
    ],
    [
      'return_url that is not http(s)',
      { payment_source: { paypal: { experience_context: { return_url: 'javascript:alert(1)' } } } },
      {},
      400,
      'INVALID_PARAMETER_SYNTAX',
      '/payment_source/paypal/experience_context/return_url',
    ],
    [
      'unsupported currency',
      {},
      { amount: { currency_code: 'XYZ', value: '1.00' } },
      422,
      'CURRENCY_NOT_SUPPORTED',
      '/purchase_units/0/amount/currency_code',
    ],
    [
      'zero amount',
      {},
      { amount: { currency_code: 'USD', value: '0.00' } },
      422,
      'CANNOT_BE_ZERO_OR_NEGATIVE',
      '/purchase_units/0/amount/value',
    ],
    [
      'negative amount',
      {},
      { amount: { currency_code: 'USD', value: '-5.00' } },
      422,
      'CANNOT_BE_ZERO_OR_NEGATIVE',
      '/purchase_units/0/amount/value',
    ],
    [
      'three decimals',
      {},
      { amount: { currency_code: 'EUR', value: '1.005' } },
      422,
      'DECIMAL_PRECISION',
      '/purchase_units/0/amount/value',
    ],
    [
      'decimals for JPY',
      {},
      { amount: { currency_code: 'JPY', value: '100.50' } },
      422,
      'DECIMALS_NOT_SUPPORTED',
      '/purchase_units/0/amount/value',
    ],
  ])('rejects %s like PayPal', async (_name, overrides, unit, status, issue, field) => {
    const response = await api('POST', '/v2/checkout/orders', { body: orderBody(overrides, unit) });
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({
      name: status === 400 ? 'INVALID_REQUEST' : 'UNPROCESSABLE_ENTITY',
      message: expect.any(String),
      debug_id: expect.stringMatching(/^[0-9a-f]{13}$/),
    });
    expect(response.body.details[0]).toMatchObject({ issue, field, description: expect.any(String) });
    expect(response.headers.get('paypal-debug-id')).toBe(response.body.debug_id);
    expect(sim.controls.orders()).toHaveLength(0);
  });

  it('rejects a body that is not JSON', async () => {
    const response = await api('POST', '/v2/checkout/orders', { body: '{"intent":' });
    expect(response.status).toBe(400);
    expect(response.body.details[0].issue).toBe('MALFORMED_REQUEST_JSON');
  });
});

describe('approval page', () => {
  it('shows merchant, amount and description, escaped, with Approve and Cancel forms and no script', async () => {
    const hostile = `<script>alert("x")</script>&'`;
    const id = await createOrder({}, { description: hostile });
    const response = await fetch(`${sim.baseUrl}/checkoutnow?token=${id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const html = await response.text();
    expect(html).toContain('PayPal Sandbox Simulator');
    expect(html).toContain('Boxoffice');
    expect(html).toContain('$25.00 USD');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
    expect(html).not.toContain('<script');
    expect(html).toMatch(/<form method="post" action="\/paypal-sim\/checkoutnow\/approve">/);
    expect(html).toMatch(/<form method="post" action="\/paypal-sim\/checkoutnow\/cancel">/);
    expect(html).toContain(`<input type="hidden" name="token" value="${id}">`);
    expect(html).toMatch(/<button class="approve" type="submit">Approve<\/button>/);
    expect(html).toMatch(/<button class="cancel" type="submit">Cancel<\/button>/);
    expect(html).not.toMatch(/<(script|link|img|iframe)\b/i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
  });

  it('answers 404 for an unknown or expired token', async () => {
    const response = await fetch(`${sim.baseUrl}/checkoutnow?token=NOSUCHORDER`);
    expect(response.status).toBe(404);
    expect(await response.text()).toContain('expired or does not exist');
  });

  it('Approve marks the order APPROVED and redirects 303 to return_url with token and PayerID', async () => {
    const id = await createOrder();
    const response = await postForm('/paypal-sim/checkoutnow/approve', { token: id });
    expect(response.status).toBe(303);
    const order = sim.controls.order(id);
    expect(order?.status).toBe('APPROVED');
    const payerId = order?.payer?.payerId ?? '';
    expect(payerId).toMatch(/^[A-Z0-9]{13}$/);
    expect(response.headers.get('location')).toBe(
      `https://shop.example/payments/paypal/return?ref=abc.def&token=${id}&PayerID=${payerId}`,
    );

    const fetched = await api('GET', `/v2/checkout/orders/${id}`);
    expect(fetched.body.status).toBe('APPROVED');
    expect(fetched.body.payer.payer_id).toBe(payerId);
    expect(fetched.body.payment_source.paypal.account_id).toBe(payerId);
    expect(fetched.body.links.map((l: { rel: string }) => l.rel)).toEqual(['self', 'update', 'capture']);

    const again = await postForm('/paypal-sim/checkoutnow/approve', { token: id });
    expect(again.status).toBe(303);
    expect(sim.controls.order(id)?.payer?.payerId).toBe(payerId);
  });

  it('Cancel redirects 303 to cancel_url with the token and leaves the order as it was', async () => {
    const id = await createOrder();
    const response = await postForm('/paypal-sim/checkoutnow/cancel', { token: id });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(
      `https://shop.example/payments/paypal/cancel?ref=abc.def&token=${id}`,
    );
    expect(sim.controls.order(id)).toMatchObject({ status: 'PAYER_ACTION_REQUIRED', cancelCount: 1 });
  });

  it('refuses to approve a captured order', async () => {
    const id = await createOrder();
    sim.controls.approve(id);
    await api('POST', `/v2/checkout/orders/${id}/capture`, { body: {} });
    const response = await postForm('/paypal-sim/checkoutnow/approve', { token: id });
    expect(response.status).toBe(409);
    expect(sim.controls.order(id)?.status).toBe('COMPLETED');
  });

  it('answers 410 for a voided order, with a way back through the cancel page', async () => {
    const id = await createOrder();
    sim.controls.voidOrder(id);
    const response = await fetch(`${sim.baseUrl}/checkoutnow?token=${id}`);
    expect(response.status).toBe(410);
    const html = await response.text();
    expect(html).toContain('Nothing was charged');
    expect(html).toContain(`href="https://shop.example/payments/paypal/cancel?ref=abc.def&amp;token=${id}"`);
  });
});

describe('capture', () => {
  it('captures an approved order once and replays the answer for the same PayPal-Request-Id', async () => {
    const id = await createOrder();
    sim.controls.approve(id);
    const headers = { 'paypal-request-id': 'capture:booking-1' };
    const first = await api('POST', `/v2/checkout/orders/${id}/capture`, { body: {}, headers });
    expect(first.status).toBe(201);
    expect(first.body.status).toBe('COMPLETED');
    const capture = first.body.purchase_units[0].payments.captures[0];
    expect(capture).toMatchObject({
      id: expect.stringMatching(/^[A-Z0-9]{17}$/),
      status: 'COMPLETED',
      amount: { currency_code: 'USD', value: '25.00' },
      custom_id: 'booking-1',
      invoice_id: 'booking-1',
      final_capture: true,
      seller_protection: { status: 'ELIGIBLE' },
      create_time: expect.any(String),
      update_time: expect.any(String),
    });

    const replay = await api('POST', `/v2/checkout/orders/${id}/capture`, { body: {}, headers });
    expect(replay).toMatchObject({ status: 201, body: first.body });
    expect(sim.controls.captureCount(id)).toBe(1);

    const other = await api('POST', `/v2/checkout/orders/${id}/capture`, {
      body: {},
      headers: { 'paypal-request-id': 'capture:other' },
    });
    expect(other.status).toBe(422);
    expect(other.body.details[0].issue).toBe('ORDER_ALREADY_CAPTURED');
    expect(sim.controls.captureCount(id)).toBe(1);

    const fetched = await api('GET', `/v2/checkout/orders/${id}`);
    expect(fetched.body.purchase_units[0].payments.captures).toHaveLength(1);
    const byId = await api('GET', `/v2/payments/captures/${capture.id}`);
    expect(byId.body).toMatchObject({ id: capture.id, supplementary_data: { related_ids: { order_id: id } } });
  });

  it('accepts an empty body', async () => {
    const id = await createOrder();
    sim.controls.approve(id);
    const response = await api('POST', `/v2/checkout/orders/${id}/capture`);
    expect(response.status).toBe(201);
  });

  it('refuses an order the payer has not approved', async () => {
    const id = await createOrder();
    const response = await api('POST', `/v2/checkout/orders/${id}/capture`, { body: {} });
    expect(response.status).toBe(422);
    expect(response.body.details[0].issue).toBe('ORDER_NOT_APPROVED');
    expect(sim.controls.captureCount(id)).toBe(0);
  });

  it('answers 404 RESOURCE_NOT_FOUND for an unknown order', async () => {
    const response = await api('POST', '/v2/checkout/orders/5O190127TN364715T/capture', { body: {} });
    expect(response.status).toBe(404);
    expect(response.body.name).toBe('RESOURCE_NOT_FOUND');
    expect(response.body.details[0].issue).toBe('INVALID_RESOURCE_ID');
  });

  it('reports a PENDING capture inside a COMPLETED order', async () => {
    const id = await createOrder();
    sim.controls.approve(id);
    sim.controls.queueCapture({ status: 'PENDING' });
    const response = await api('POST', `/v2/checkout/orders/${id}/capture`, { body: {} });
    expect(response.body.status).toBe('COMPLETED');
    const capture = response.body.purchase_units[0].payments.captures[0];
    expect(capture).toMatchObject({ status: 'PENDING', status_details: { reason: 'PENDING_REVIEW' } });
    sim.controls.settleCapture(capture.id, 'COMPLETED');
    expect((await api('GET', `/v2/payments/captures/${capture.id}`)).body.status).toBe('COMPLETED');
  });

  it('answers INSTRUMENT_DECLINED without capturing and lets a later capture succeed', async () => {
    const id = await createOrder();
    sim.controls.approve(id);
    sim.controls.queueCapture({ orderId: id, instrumentDeclined: true });
    const declined = await api('POST', `/v2/checkout/orders/${id}/capture`, { body: {} });
    expect(declined.status).toBe(422);
    expect(declined.body.details[0].issue).toBe('INSTRUMENT_DECLINED');
    expect(declined.body.links).toContainEqual({
      href: `${sim.baseUrl}/checkoutnow?token=${id}`,
      rel: 'redirect',
      method: 'GET',
    });
    expect(sim.controls.order(id)).toMatchObject({ status: 'APPROVED', captures: [] });
    expect((await api('POST', `/v2/checkout/orders/${id}/capture`, { body: {} })).status).toBe(201);
  });

  it('refuses a second payment for an invoice_id that was already paid', async () => {
    const first = await createOrder();
    const second = await createOrder();
    for (const id of [first, second]) sim.controls.approve(id);
    expect((await api('POST', `/v2/checkout/orders/${first}/capture`, { body: {} })).status).toBe(201);
    const duplicate = await api('POST', `/v2/checkout/orders/${second}/capture`, { body: {} });
    expect(duplicate.status).toBe(422);
    expect(duplicate.body.details[0].issue).toBe('DUPLICATE_INVOICE_ID');
  });

  it('forgets request ids after the idempotency window', async () => {
    const clock = manualClock();
    const local = await listen({ clock, idempotencyTtlSeconds: 60 });
    try {
      const auth = `Bearer ${await tokenFor(local)}`;
      const call = (path: string, body: unknown) =>
        fetch(`${local.baseUrl}${path}`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/json', 'paypal-request-id': 'same' },
          body: JSON.stringify(body),
        });
      const created = await (await call('/v2/checkout/orders', orderBody())).json();
      local.controls.approve(created.id);
      expect((await call(`/v2/checkout/orders/${created.id}/capture`, {})).status).toBe(201);
      clock.advance(61_000);
      const late = await call(`/v2/checkout/orders/${created.id}/capture`, {});
      expect(late.status).toBe(422);
      expect((await late.json()).details[0].issue).toBe('ORDER_ALREADY_CAPTURED');
    } finally {
      await local.close();
    }
  });
});

describe('refund', () => {
  async function capturedId() {
    const id = await createOrder();
    sim.controls.approve(id);
    const captured = await api('POST', `/v2/checkout/orders/${id}/capture`, { body: {} });
    return captured.body.purchase_units[0].payments.captures[0].id as string;
  }

  it('refunds at most what was captured', async () => {
    const captureId = await capturedId();
    const path = `/v2/payments/captures/${captureId}/refund`;
    const partial = await api('POST', path, {
      body: { amount: { currency_code: 'USD', value: '10.00' } },
      headers: { prefer: 'return=representation', 'paypal-request-id': 'refund:1' },
    });
    expect(partial.status).toBe(201);
    expect(partial.body).toMatchObject({ status: 'COMPLETED', amount: { currency_code: 'USD', value: '10.00' } });
    expect(sim.controls.capture(captureId)?.status).toBe('PARTIALLY_REFUNDED');

    const replay = await api('POST', path, {
      body: { amount: { currency_code: 'USD', value: '10.00' } },
      headers: { prefer: 'return=representation', 'paypal-request-id': 'refund:1' },
    });
    expect(replay.body.id).toBe(partial.body.id);

    const tooMuch = await api('POST', path, { body: { amount: { currency_code: 'USD', value: '15.01' } } });
    expect(tooMuch.status).toBe(422);
    expect(tooMuch.body.details[0].issue).toBe('REFUND_AMOUNT_EXCEEDED');

    const otherCurrency = await api('POST', path, { body: { amount: { currency_code: 'EUR', value: '1.00' } } });
    expect(otherCurrency.body.details[0].issue).toBe('CURRENCY_MISMATCH');

    const rest = await api('POST', path, { body: {}, headers: { prefer: 'return=representation' } });
    expect(rest.body.amount.value).toBe('15.00');
    expect(sim.controls.capture(captureId)?.status).toBe('REFUNDED');
    const fetched = await api('GET', `/v2/payments/captures/${captureId}`);
    expect(fetched.body.status).toBe('REFUNDED');

    const again = await api('POST', path, { body: {} });
    expect(again.body.details[0].issue).toBe('CAPTURE_FULLY_REFUNDED');
    expect(sim.controls.capture(captureId)?.refunds).toHaveLength(2);
  });

  it('answers 404 for an unknown capture', async () => {
    const response = await api('POST', '/v2/payments/captures/NOPE/refund', { body: {} });
    expect(response.status).toBe(404);
  });
});

describe('controls', () => {
  it('fails the next call with a 500 before it takes effect', async () => {
    sim.controls.failNext('createOrder');
    const failed = await api('POST', '/v2/checkout/orders', { body: orderBody() });
    expect(failed.status).toBe(500);
    expect(failed.body.name).toBe('INTERNAL_SERVER_ERROR');
    expect(sim.controls.orders()).toHaveLength(0);
    expect((await api('POST', '/v2/checkout/orders', { body: orderBody() })).status).toBe(201);
  });

  it('can lose the answer after the call took effect', async () => {
    sim.controls.failNext('createOrder', { when: 'after', status: 503 });
    const failed = await api('POST', '/v2/checkout/orders', { body: orderBody() });
    expect(failed.status).toBe(503);
    expect(sim.controls.orders()).toHaveLength(1);
  });

  it('records requests without credentials', async () => {
    await createOrder();
    const recorded = sim.controls.requests();
    expect(recorded.at(-1)).toMatchObject({
      operation: 'createOrder',
      method: 'POST',
      url: '/paypal-sim/v2/checkout/orders',
      status: 201,
    });
    expect(JSON.stringify(recorded)).not.toContain(token);
  });

  it('exposes HTTP controls only with faults', async () => {
    const local = await listen({ mountPath: '' });
    try {
      expect(local.baseUrl).toBe(local.origin);
      const fail = await fetch(`${local.baseUrl}/__sim/fail`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ operation: 'token', status: 503 }),
      });
      expect(fail.status).toBe(204);
      const tokenCall = () =>
        fetch(`${local.baseUrl}/v1/oauth2/token`, {
          method: 'POST',
          headers: { authorization: basic(local.credentials.clientId, local.credentials.clientSecret) },
          body: 'grant_type=client_credentials',
        });
      expect((await tokenCall()).status).toBe(503);
      expect((await tokenCall()).status).toBe(200);
      const listed = await (await fetch(`${local.baseUrl}/__sim/orders`)).json();
      expect(listed.counts.token).toBe(2);
    } finally {
      await local.close();
    }
  });
});

describe('helpers', () => {
  it('appendQuery keeps the existing query and fragment untouched', () => {
    expect(appendQuery('https://a.example/r', { token: 'T' })).toBe('https://a.example/r?token=T');
    expect(appendQuery('https://a.example/r?ref=a%2Bb', { token: 'T', PayerID: 'P' })).toBe(
      'https://a.example/r?ref=a%2Bb&token=T&PayerID=P',
    );
    expect(appendQuery('https://a.example/r?x=1#frag', { token: 'T' })).toBe('https://a.example/r?x=1&token=T#frag');
  });
});
