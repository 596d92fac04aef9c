import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../logger.ts';
import { generateTicketSigningKey } from '../../modules/tickets/ticket-code.ts';
import { approvalUrlOf, makeBuyers, pressPayPalButton, seedEvent } from '../../test/fixtures.ts';
import { ADMIN, startTestServer, type TestServer } from '../../test/harness.ts';

// Offline mode as it runs on a public host: the simulator is mounted under /paypal-sim with fault
// injection off, so these tests force the in-process simulator whatever TEST_PAYPAL_SIMULATOR says.
const OFFLINE = { paypalSimulator: 'in-process' as const, env: { PAYPAL_SIMULATOR_FAULTS: 'false' } };
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

async function book(server: TestServer) {
  const eventId = await seedEvent(server, { capacity: 5, priceMinor: 3000 });
  const [buyer] = await makeBuyers(server, 1);
  const res = await server.http('POST', `/api/events/${eventId}/book`, { token: buyer!.token, body: { quantity: 1 } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const approvalUrl = await approvalUrlOf(res.body);
  return {
    bookingId: res.body.id as string,
    token: buyer!.token,
    paymentUrl: res.body.paymentUrl as string,
    approvalUrl,
    orderId: new URL(approvalUrl).searchParams.get('token') as string,
  };
}

const statusOf = async (server: TestServer, bookingId: string) =>
  (await server.sql<{ status: string }>('SELECT status FROM bookings WHERE id = ?', [bookingId]))[0]?.status;

describe('offline PayPal on the public server', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(OFFLINE);
  });
  afterAll(() => server?.close());

  const sim = (urlPath: string, init: RequestInit = {}) => fetch(`${server.url}/paypal-sim${urlPath}`, init);

  it('refuses the old built-in client credentials with 401', async () => {
    const res = await sim('/v1/oauth2/token', {
      method: 'POST',
      headers: { authorization: basic('sim-client-id', 'sim-client-secret') },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('a buyer cannot refund their own capture, and the booking stays CONFIRMED with the money captured', async () => {
    const held = await book(server);
    const back = await pressPayPalButton(server, held.orderId, 'approve');
    expect((await server.http('GET', back.replace(server.url, ''))).body.state).toBe('confirmed');
    const captureId = server.deps.paypalSimulator!.controls.order(held.orderId)!.captures[0]!.id;

    const refundWith = (authorization: string) =>
      sim(`/v2/payments/captures/${captureId}/refund`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: '{}',
      });
    expect((await refundWith(basic('sim-client-id', 'sim-client-secret'))).status).toBe(401);
    expect((await refundWith(`Bearer ${held.token}`)).status).toBe(401);
    expect((await refundWith('Bearer A21AAguessed')).status).toBe(401);
    const oldToken = await sim('/v1/oauth2/token', {
      method: 'POST',
      headers: { authorization: basic('sim-client-id', 'sim-client-secret') },
      body: 'grant_type=client_credentials',
    });
    expect(oldToken.status).toBe(401);

    // nor through fault injection, which offline mode does not mount
    expect((await sim('/__sim/orders')).status).toBe(404);
    expect((await sim('/__sim/fail', { method: 'POST', body: '{"operation":"refundCapture"}' })).status).toBe(404);

    expect(server.deps.paypalSimulator!.controls.capture(captureId)).toMatchObject({
      status: 'COMPLETED',
      refunds: [],
    });
    expect(await statusOf(server, held.bookingId)).toBe('CONFIRMED');
  });

  it('refuses an order whose return_url is not one of this server’s payment pages', async () => {
    // only the server holds the merchant credentials; it would never send such an order
    const { clientId, clientSecret } = server.deps.paypalSimulator!.credentials;
    const token = await (
      await sim('/v1/oauth2/token', {
        method: 'POST',
        headers: { authorization: basic(clientId, clientSecret) },
        body: 'grant_type=client_credentials',
      })
    ).json();
    const create = (returnUrl: string) =>
      sim('/v2/checkout/orders', {
        method: 'POST',
        headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          intent: 'CAPTURE',
          purchase_units: [{ amount: { currency_code: 'EUR', value: '10.00' } }],
          payment_source: { paypal: { experience_context: { return_url: returnUrl } } },
        }),
      });
    const outside = await create('https://evil.example/phish');
    expect(outside.status).toBe(422);
    expect((await outside.json()).details[0].issue).toBe('REDIRECT_URL_NOT_ALLOWED');
    expect((await create(`${server.url}/docs`)).status).toBe(422);
    expect((await create(`${server.url}/payments/paypal/return?ref=x`)).status).toBe(201);
  });

  it('a dead end on the approval page still tells the buyer what to do', async () => {
    const res = await fetch(`${server.url}/paypal-sim/checkoutnow?token=NOSUCHORDER`);
    expect(res.status).toBe(404);
    const html = await res.text();
    expect(html).toContain('Nothing was charged');
    expect(html).toContain('start the payment again from your booking');
  });
});

describe('offline PayPal across a restart', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'boxoffice-offline-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it("a HELD booking's payment link still works after the server restarts", async () => {
    const env = { ...OFFLINE.env, PAYPAL_SIMULATOR_PERSIST: 'true', DATA_DIR: dataDir };
    const first = await startTestServer({ ...OFFLINE, env });
    const held = await book(first);
    const port = new URL(first.url).port;
    await first.stop();

    // the same deployment again: same database, same port, same data folder
    const second = await startTestServer({ ...OFFLINE, env: { ...env, PORT: port }, shareDatabaseOf: first });
    try {
      expect(await statusOf(second, held.bookingId)).toBe('HELD');
      const approvalPage = await fetch(held.paymentUrl);
      expect(approvalPage.status).toBe(200);
      expect(await approvalPage.text()).toContain('Approve');
      const back = await pressPayPalButton(second, held.orderId, 'approve');
      const settled = await second.http('GET', back.replace(second.url, ''));
      expect(settled.body.state).toBe('confirmed');
      expect(await statusOf(second, held.bookingId)).toBe('CONFIRMED');
    } finally {
      await second.close();
      await first.close();
    }
  });
});

describe('offline PayPal in production', () => {
  it('logs at error level what it exposes', async () => {
    const lines: string[] = [];
    const server = await startTestServer({
      ...OFFLINE,
      log: createLogger('warn', { write: (line: string) => lines.push(line) }),
      env: {
        ...OFFLINE.env,
        NODE_ENV: 'production',
        HOST: 'https://tickets.example',
        PAYPAL_SIMULATOR: 'true',
        MAIL_DISABLED: 'true',
        TICKET_SIGNING_KEY: generateTicketSigningKey(),
      },
    });
    try {
      const entries = lines.map((line) => JSON.parse(line) as { level: number; msg: string });
      const warning = entries.find((entry) => entry.msg.includes('PAYPAL_SIMULATOR=true in production'));
      expect(warning?.level).toBe(50);
      expect(warning?.msg).toContain('https://tickets.example/paypal-sim/checkoutnow');
      expect(warning?.msg).toMatch(/no money moves/);
      expect(lines.join('\n')).not.toContain(server.deps.paypalSimulator!.credentials.clientSecret);
      expect(lines.join('\n')).not.toContain(ADMIN.password);
    } finally {
      await server.close();
    }
  });
});

describe('one standalone simulator shared by two servers', () => {
  it('serves both over HTTP with its own credentials; neither server mounts a simulator', async () => {
    const [a, b] = await Promise.all([
      startTestServer({ paypalSimulator: 'standalone' }),
      startTestServer({ paypalSimulator: 'standalone' }),
    ]);
    try {
      const shared = a.deps.paypalSimulator!;
      expect(b.deps.paypalSimulator).toBe(shared);
      expect(a.paypalSimulatorUrl).toBe(b.paypalSimulatorUrl);
      expect(a.paypalSimulatorUrl.startsWith(a.url)).toBe(false);
      expect(a.deps.config.PAYPAL_API_BASE_URL).toBe(a.paypalSimulatorUrl);
      expect((await fetch(`${a.url}/paypal-sim/checkoutnow?token=X`)).status).toBe(404);
      for (const server of [a, b]) {
        const held = await book(server);
        expect(held.approvalUrl.startsWith(`${server.paypalSimulatorUrl}/checkoutnow?token=`)).toBe(true);
        const back = await pressPayPalButton(server, held.orderId, 'approve');
        expect(back.startsWith(`${server.url}/payments/paypal/return?`)).toBe(true);
        expect((await server.http('GET', back.replace(server.url, ''))).body.state).toBe('confirmed');
        expect(shared.controls.captureCount(held.orderId)).toBe(1);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
