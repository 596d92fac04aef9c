import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPayPalSimulator, type ListeningPayPalSimulator, listenPayPalSimulator } from './index.ts';

const RETURN = 'https://tickets.example/payments/paypal/return';
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paypal-sim-state-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

async function client(sim: ListeningPayPalSimulator) {
  const { clientId, clientSecret } = sim.credentials;
  const tokenResponse = await fetch(`${sim.baseUrl}/v1/oauth2/token`, {
    method: 'POST',
    headers: { authorization: basic(clientId, clientSecret) },
    body: 'grant_type=client_credentials',
  });
  const token = (await tokenResponse.json()).access_token;
  return async (method: string, urlPath: string, body?: unknown, requestId?: string) => {
    const response = await fetch(`${sim.baseUrl}${urlPath}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(requestId ? { 'paypal-request-id': requestId } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
}

const orderBody = {
  intent: 'CAPTURE',
  purchase_units: [{ amount: { currency_code: 'EUR', value: '30.00' }, invoice_id: 'booking-9' }],
  payment_source: { paypal: { experience_context: { return_url: `${RETURN}?ref=x`, cancel_url: `${RETURN}?c=1` } } },
};

describe('state file', () => {
  it('keeps orders, captures, refunds and request ids across a restart', async () => {
    const file = path.join(dir, 'restart', 'paypal-simulator.json');
    const options = { allowedRedirectPrefixes: [RETURN], stateFile: file, stateWriteDelayMs: 10_000 };
    const first = await listenPayPalSimulator(options);
    const call = await client(first);
    const open = await call('POST', '/v2/checkout/orders', orderBody, 'create:booking-8');
    const paid = await call('POST', '/v2/checkout/orders', {
      ...orderBody,
      purchase_units: [{ ...orderBody.purchase_units[0], invoice_id: 'b-7' }],
    });
    first.controls.approve(paid.body.id);
    const captured = await call('POST', `/v2/checkout/orders/${paid.body.id}/capture`, {}, 'capture:b-7');
    const captureId = captured.body.purchase_units[0].payments.captures[0].id;
    const refund = await call('POST', `/v2/payments/captures/${captureId}/refund`, {
      amount: { currency_code: 'EUR', value: '5.00' },
    });
    // a long debounce: only the clean stop writes
    await first.close();

    const second = await listenPayPalSimulator(options);
    try {
      const again = await client(second);
      expect(second.controls.order(open.body.id)?.status).toBe('PAYER_ACTION_REQUIRED');
      // the payment link of a held booking still works: the page shows, Approve redirects back
      const html = await (await fetch(`${second.baseUrl}/checkoutnow?token=${open.body.id}`)).text();
      expect(html).toContain('€30.00');
      const approved = await fetch(`${second.origin}/paypal-sim/checkoutnow/approve`, {
        method: 'POST',
        body: new URLSearchParams({ token: open.body.id }),
        redirect: 'manual',
      });
      expect(approved.status).toBe(303);
      expect(approved.headers.get('location')).toContain(`${RETURN}?ref=x&token=${open.body.id}`);
      // a create retried after the restart finds the order the first attempt made
      const retried = await again('POST', '/v2/checkout/orders', orderBody, 'create:booking-8');
      expect(retried).toMatchObject({ status: 200, body: { id: open.body.id } });
      // a capture retried with its request id replays; the refund and the capture are still there
      const replay = await again('POST', `/v2/checkout/orders/${paid.body.id}/capture`, {}, 'capture:b-7');
      expect(replay).toMatchObject({ status: 201, body: captured.body });
      expect((await again('GET', `/v2/payments/refunds/${refund.body.id}`)).body.amount.value).toBe('5.00');
      expect((await again('GET', `/v2/payments/captures/${captureId}`)).body.status).toBe('PARTIALLY_REFUNDED');
    } finally {
      await second.close();
    }
  });

  it('writes atomically, readable by its owner only, and debounced', async () => {
    const file = path.join(dir, 'atomic.json');
    const sim = createPayPalSimulator({
      publicUrl: 'http://127.0.0.1:1/paypal-sim',
      allowedRedirectPrefixes: [],
      stateFile: file,
      stateWriteDelayMs: 20,
    });
    const created = await sim.app.request('/v1/oauth2/token', {
      method: 'POST',
      headers: { authorization: basic(sim.credentials.clientId, sim.credentials.clientSecret) },
      body: 'grant_type=client_credentials',
    });
    const token = (await created.json()).access_token;
    for (let i = 0; i < 5; i++) {
      const response = await sim.app.request('/v2/checkout/orders', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...orderBody, payment_source: undefined }),
      });
      expect(response.status).toBe(201);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    const saved = JSON.parse(await readFile(file, 'utf8'));
    expect(saved.version).toBe(1);
    expect(saved.orders).toHaveLength(5);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    // the in-memory tokens are not state: nothing secret is in the file
    expect(JSON.stringify(saved)).not.toContain(token);
    expect(JSON.stringify(saved)).not.toContain(sim.credentials.clientSecret);
    await sim.close();
  });

  it('moves an unreadable file aside and starts empty', async () => {
    const file = path.join(dir, 'broken.json');
    await writeFile(file, '{"version":1,"orders":[{"id":');
    const warnings: string[] = [];
    const sim = createPayPalSimulator({
      publicUrl: 'http://127.0.0.1:1/paypal-sim',
      allowedRedirectPrefixes: [],
      stateFile: file,
      log: { warn: (_data, message) => warnings.push(message) },
    });
    expect(sim.controls.orders()).toEqual([]);
    expect(warnings).toEqual([expect.stringContaining('unreadable')]);
    const names = await readdir(dir);
    expect(names.some((name) => name.startsWith('broken.json.unreadable-'))).toBe(true);
    await sim.close();
  });
});
