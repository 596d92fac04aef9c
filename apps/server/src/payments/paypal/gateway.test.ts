import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DomainError } from '@boxoffice/contracts';
import { type ListeningPayPalSimulator, listenPayPalSimulator } from '@boxoffice/paypal-simulator';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../logger.ts';
import {
  type CreatePayPalOrderInput,
  createPayPalGateway,
  PayPalError,
  type PayPalGatewayOptions,
  payPalFailureKind,
} from './gateway.ts';
import { MoneyFormatError } from './money.ts';

let sim: ListeningPayPalSimulator;
let logLines: string[] = [];
let bookingCounter = 0;

beforeAll(async () => {
  sim = await listenPayPalSimulator({
    faults: true,
    allowedRedirectPrefixes: ['http://localhost:3000/payments/paypal/'],
  });
});
afterEach(() => {
  sim.controls.reset();
  logLines = [];
});
afterAll(() => sim.close());

function gateway(overrides: Partial<PayPalGatewayOptions> = {}) {
  return createPayPalGateway({
    ...sim.credentials,
    environment: 'sandbox',
    baseUrl: sim.baseUrl,
    timeoutMs: 200,
    maxRetries: 2,
    retryDelayMs: 5,
    log: createLogger('info', { write: (line: string) => logLines.push(line) }),
    ...overrides,
  });
}

function orderInput(overrides: Partial<CreatePayPalOrderInput> = {}): CreatePayPalOrderInput {
  bookingCounter += 1;
  const bookingId = `0b9a7d52-0000-4000-8000-${String(bookingCounter).padStart(12, '0')}`;
  return {
    bookingId,
    amountMinor: 2500,
    currency: 'USD',
    description: 'Spring Concert, 2 tickets',
    returnUrl: `http://localhost:3000/payments/paypal/return?ref=${bookingId}.c2lnbmF0dXJl`,
    cancelUrl: `http://localhost:3000/payments/paypal/cancel?ref=${bookingId}.c2lnbmF0dXJl`,
    ...overrides,
  };
}

async function failureOf(promise: Promise<unknown>): Promise<PayPalError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the PayPal call to fail');
    },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(PayPalError);
  return error as PayPalError;
}

/** Lets requests the simulator is still sleeping on finish, so counts are final. */
async function settled() {
  await vi.waitFor(() => expect(sim.controls.requests().every((r) => r.status !== 0)).toBe(true), {
    timeout: 2000,
    interval: 20,
  });
}

const requestsFor = (operation: string) => sim.controls.requests().filter((r) => r.operation === operation);

describe('PayPal gateway against the simulator (real SDK, real sockets)', () => {
  it('creates, gets approved, captures and reads back a completed order', async () => {
    const paypal = gateway();
    const input = orderInput();
    const created = await paypal.createOrder(input);
    expect(created).toEqual({
      orderId: expect.stringMatching(/^[A-Z0-9]{17}$/),
      approveUrl: `${sim.baseUrl}/checkoutnow?token=${created.orderId}`,
      status: 'PAYER_ACTION_REQUIRED',
    });
    expect(sim.controls.order(created.orderId)).toMatchObject({
      amount: { currency_code: 'USD', value: '25.00' },
      customId: input.bookingId,
      invoiceId: input.bookingId,
      returnUrl: input.returnUrl,
      cancelUrl: input.cancelUrl,
    });
    expect(requestsFor('createOrder')[0]?.requestId).toBe(`create:${input.bookingId}`);

    const before = await paypal.getOrder(created.orderId);
    expect(before).toMatchObject({ status: 'PAYER_ACTION_REQUIRED', payerId: null, captures: [] });

    sim.controls.approve(created.orderId);
    const captured = await paypal.captureOrder({ orderId: created.orderId, bookingId: input.bookingId });
    expect(requestsFor('captureOrder')[0]?.requestId).toBe(`capture:${input.bookingId}`);
    const expected = {
      id: created.orderId,
      status: 'COMPLETED',
      customId: input.bookingId,
      invoiceId: input.bookingId,
      amountMinor: 2500,
      currency: 'USD',
      payerId: expect.stringMatching(/^[A-Z0-9]{13}$/),
      captures: [
        {
          id: expect.stringMatching(/^[A-Z0-9]{17}$/),
          status: 'COMPLETED',
          amountMinor: 2500,
          currency: 'USD',
          customId: input.bookingId,
          invoiceId: input.bookingId,
        },
      ],
      refunds: [],
    };
    expect(captured).toEqual(expected);
    expect(await paypal.getOrder(created.orderId)).toEqual(captured);
    expect(sim.controls.counts().token).toBe(1);
  });

  it('approves through the HTML form like a buyer would', async () => {
    const paypal = gateway();
    const input = orderInput();
    const { orderId, approveUrl } = await paypal.createOrder(input);
    const html = await (await fetch(approveUrl)).text();
    const action = /<form method="post" action="([^"]+approve)">/.exec(html)?.[1];
    expect(action).toBeDefined();
    const approved = await fetch(`${sim.origin}${action}`, {
      method: 'POST',
      body: new URLSearchParams({ token: orderId }),
      redirect: 'manual',
    });
    expect(approved.status).toBe(303);
    const location = new URL(approved.headers.get('location') ?? '');
    expect(location.searchParams.get('token')).toBe(orderId);
    expect(location.searchParams.get('ref')).toBe(new URL(input.returnUrl).searchParams.get('ref'));
    expect((await paypal.captureOrder({ orderId, bookingId: input.bookingId })).status).toBe('COMPLETED');
  });

  it('reports not_approved when capturing before the buyer approved', async () => {
    const paypal = gateway();
    const input = orderInput();
    const { orderId } = await paypal.createOrder(input);
    const error = await failureOf(paypal.captureOrder({ orderId, bookingId: input.bookingId }));
    expect(error).toMatchObject({
      kind: 'not_approved',
      issue: 'ORDER_NOT_APPROVED',
      httpStatus: 422,
      operation: 'captureOrder',
    });
    expect(error.debugId).toMatch(/^[0-9a-f]{13}$/);
    expect(payPalFailureKind(error)).toBe('not_approved');
    expect(error).toBeInstanceOf(DomainError);
    expect(error.code).toBe('PAYMENT_PROVIDER_ERROR');
    expect(sim.controls.captureCount(orderId)).toBe(0);
    expect(sim.controls.counts().captureOrder).toBe(1);
  });

  it('replays a capture with the same request id and reports already_captured for another one', async () => {
    const paypal = gateway();
    const input = orderInput();
    const { orderId } = await paypal.createOrder(input);
    sim.controls.approve(orderId);

    const first = await paypal.captureOrder({ orderId, bookingId: input.bookingId });
    const second = await paypal.captureOrder({ orderId, bookingId: input.bookingId });
    expect(second).toEqual(first);
    expect(sim.controls.captureCount(orderId)).toBe(1);
    expect(requestsFor('captureOrder').map((r) => r.requestId)).toEqual([
      `capture:${input.bookingId}`,
      `capture:${input.bookingId}`,
    ]);

    const error = await failureOf(paypal.captureOrder({ orderId, bookingId: orderInput().bookingId }));
    expect(error).toMatchObject({ kind: 'already_captured', issue: 'ORDER_ALREADY_CAPTURED' });
    expect(sim.controls.captureCount(orderId)).toBe(1);
  });

  it('retries a create that timed out after PayPal made the order: one order', async () => {
    const paypal = gateway();
    sim.controls.hangNext('createOrder', { ms: 500, when: 'after' });
    const input = orderInput();
    const started = performance.now();
    const created = await paypal.createOrder(input);
    expect(performance.now() - started).toBeLessThan(1000);
    await settled();
    expect(sim.controls.orders().map((o) => o.id)).toEqual([created.orderId]);
    expect(requestsFor('createOrder').map((r) => r.requestId)).toEqual([
      `create:${input.bookingId}`,
      `create:${input.bookingId}`,
    ]);
    expect(logLines.join('')).toContain('retrying with the same PayPal-Request-Id');
  });

  it('retries a create whose first attempt is processed late: still one order', async () => {
    const paypal = gateway();
    sim.controls.hangNext('createOrder', { ms: 400, when: 'before' });
    const created = await paypal.createOrder(orderInput());
    await settled();
    expect(sim.controls.orders().map((o) => o.id)).toEqual([created.orderId]);
    expect(requestsFor('createOrder').map((r) => r.status)).toEqual([200, 201]);
  });

  it.each(['before', 'after'] as const)('retries after a 500 (%s taking effect): one order', async (when) => {
    const paypal = gateway();
    sim.controls.failNext('createOrder', { when });
    const created = await paypal.createOrder(orderInput());
    expect(sim.controls.orders().map((o) => o.id)).toEqual([created.orderId]);
    expect(requestsFor('createOrder').map((r) => r.status)).toEqual([500, when === 'before' ? 201 : 200]);
  });

  it('retries a capture whose answer was lost: one capture', async () => {
    const paypal = gateway();
    const input = orderInput();
    const { orderId } = await paypal.createOrder(input);
    sim.controls.approve(orderId);
    sim.controls.hangNext('captureOrder', { ms: 400, when: 'after' });
    const captured = await paypal.captureOrder({ orderId, bookingId: input.bookingId });
    await settled();
    expect(captured.captures).toHaveLength(1);
    expect(sim.controls.captureCount(orderId)).toBe(1);
    expect(requestsFor('captureOrder')).toHaveLength(2);
  });

  it('gives up after maxRetries and reports unavailable', async () => {
    const paypal = gateway({ maxRetries: 2 });
    const { orderId } = await paypal.createOrder(orderInput());
    sim.controls.failNext('getOrder', { times: 3, status: 503 });
    const error = await failureOf(paypal.getOrder(orderId));
    expect(error).toMatchObject({ kind: 'unavailable', httpStatus: 503, operation: 'getOrder' });
    expect(sim.controls.counts().getOrder).toBe(3);
  });

  it('times out a call that never answers', async () => {
    const paypal = gateway({ maxRetries: 1 });
    const { orderId } = await paypal.createOrder(orderInput());
    sim.controls.hangNext('getOrder', { ms: 600, times: 2, when: 'before' });
    const started = performance.now();
    const error = await failureOf(paypal.getOrder(orderId));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error).toMatchObject({ kind: 'unavailable', httpStatus: null });
    expect(error.message).toContain('timeout');
    await settled();
  });

  it('reports unavailable when PayPal cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const paypal = gateway({ baseUrl: `http://127.0.0.1:${port}/paypal-sim`, maxRetries: 1 });
    const error = await failureOf(paypal.createOrder(orderInput()));
    expect(error.kind).toBe('unavailable');
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('recovers when fetching the token failed once', async () => {
    const paypal = gateway();
    sim.controls.failNext('token');
    const created = await paypal.createOrder(orderInput());
    expect(created.orderId).toBeTruthy();
    expect(sim.controls.counts()).toMatchObject({ token: 2, createOrder: 1 });
    await paypal.getOrder(created.orderId);
    expect(sim.controls.counts().token).toBe(2);
  });

  it('fetches a new token once PayPal stops accepting the cached one', async () => {
    const paypal = gateway();
    const { orderId } = await paypal.createOrder(orderInput());
    sim.controls.revokeTokens();
    expect((await paypal.getOrder(orderId)).id).toBe(orderId);
    expect(sim.controls.counts()).toMatchObject({ token: 2, getOrder: 2 });
  });

  it('reports wrong credentials as unavailable without retrying or creating anything', async () => {
    const paypal = gateway({ clientSecret: 'wrong-secret' });
    const error = await failureOf(paypal.createOrder(orderInput()));
    expect(error).toMatchObject({ kind: 'unavailable', httpStatus: 401, issue: 'invalid_client' });
    expect(sim.controls.counts()).toMatchObject({ token: 1, createOrder: 0 });
    expect(logLines.join('')).not.toContain('wrong-secret');
  });

  it('returns a PENDING capture as data', async () => {
    const paypal = gateway();
    const input = orderInput();
    const { orderId } = await paypal.createOrder(input);
    sim.controls.approve(orderId);
    sim.controls.queueCapture({ status: 'PENDING' });
    const order = await paypal.captureOrder({ orderId, bookingId: input.bookingId });
    expect(order.status).toBe('COMPLETED');
    expect(order.captures.map((c) => c.status)).toEqual(['PENDING']);
  });

  it('reports INSTRUMENT_DECLINED as declined and a DECLINED capture as data', async () => {
    const paypal = gateway();
    const input = orderInput();
    const { orderId } = await paypal.createOrder(input);
    sim.controls.approve(orderId);
    sim.controls.queueCapture({ instrumentDeclined: true });
    const error = await failureOf(paypal.captureOrder({ orderId, bookingId: input.bookingId }));
    expect(error).toMatchObject({ kind: 'declined', issue: 'INSTRUMENT_DECLINED' });
    expect(sim.controls.captureCount(orderId)).toBe(0);

    sim.controls.queueCapture({ status: 'DECLINED' });
    const order = await paypal.captureOrder({ orderId, bookingId: input.bookingId });
    expect(order.captures.map((c) => c.status)).toEqual(['DECLINED']);
  });

  it('passes a capture with another amount, currency or custom_id through for the caller to check', async () => {
    const paypal = gateway();
    const input = orderInput();
    const { orderId } = await paypal.createOrder(input);
    sim.controls.approve(orderId);
    sim.controls.queueCapture({ amountValue: '1.00', currency: 'EUR', customId: 'someone-else' });
    const order = await paypal.captureOrder({ orderId, bookingId: input.bookingId });
    expect(order).toMatchObject({ amountMinor: 2500, currency: 'USD', customId: input.bookingId });
    expect(order.captures).toEqual([
      expect.objectContaining({ amountMinor: 100, currency: 'EUR', customId: 'someone-else' }),
    ]);
  });

  it('reports not_found for unknown orders, without calling PayPal for ids that cannot be PayPal ids', async () => {
    const paypal = gateway();
    expect((await failureOf(paypal.getOrder('5O190127TN364715T'))).kind).toBe('not_found');
    const before = sim.controls.counts().getOrder;
    expect((await failureOf(paypal.getOrder('../../v1/oauth2/token'))).kind).toBe('not_found');
    expect(sim.controls.counts().getOrder).toBe(before);
  });

  it('refunds part, replays the same refund, refuses more than was captured, then refunds the rest', async () => {
    const paypal = gateway();
    const input = orderInput();
    const { orderId } = await paypal.createOrder(input);
    sim.controls.approve(orderId);
    const captureId = (await paypal.captureOrder({ orderId, bookingId: input.bookingId })).captures[0]?.id ?? '';

    const partial = await paypal.refundCapture({
      captureId,
      bookingId: input.bookingId,
      amountMinor: 1000,
      currency: 'USD',
    });
    expect(partial).toEqual({
      refundId: expect.any(String),
      status: 'COMPLETED',
      amountMinor: 1000,
      currency: 'USD',
      captureId,
    });
    const replay = await paypal.refundCapture({
      captureId,
      bookingId: input.bookingId,
      amountMinor: 1000,
      currency: 'USD',
    });
    expect(replay.refundId).toBe(partial.refundId);
    expect(requestsFor('refundCapture')[0]?.requestId).toBe(`refund:${input.bookingId}`);

    const other = orderInput().bookingId;
    const error = await failureOf(
      paypal.refundCapture({ captureId, bookingId: other, amountMinor: 1501, currency: 'USD' }),
    );
    expect(error).toMatchObject({ kind: 'rejected', issue: 'REFUND_AMOUNT_EXCEEDED', httpStatus: 422 });

    const rest = await paypal.refundCapture({ captureId, bookingId: other, currency: 'USD' });
    expect(rest.amountMinor).toBe(1500);
    expect(sim.controls.capture(captureId)?.status).toBe('REFUNDED');
  });

  it('sends zero-decimal currencies without decimals and trims long descriptions to PayPal’s limit', async () => {
    const paypal = gateway();
    const { orderId } = await paypal.createOrder(
      orderInput({ amountMinor: 2500, currency: 'JPY', description: 'é'.repeat(300) }),
    );
    const order = sim.controls.order(orderId);
    expect(order?.amount).toEqual({ currency_code: 'JPY', value: '2500' });
    expect(order?.description).toBe('é'.repeat(127));
    expect((await paypal.getOrder(orderId)).amountMinor).toBe(2500);
  });

  it('throws a bad amount back at the caller without calling PayPal', async () => {
    const paypal = gateway();
    await expect(paypal.createOrder(orderInput({ amountMinor: -100 }))).rejects.toThrow(MoneyFormatError);
    await expect(paypal.createOrder(orderInput({ amountMinor: 12.5 }))).rejects.toThrow(MoneyFormatError);
    expect(sim.controls.requests()).toHaveLength(0);
  });

  it('puts no token or credential in any URL, body or log line', async () => {
    const paypal = gateway();
    sim.controls.failNext('createOrder');
    const input = orderInput();
    const { orderId } = await paypal.createOrder(input);
    sim.controls.approve(orderId);
    await paypal.captureOrder({ orderId, bookingId: input.bookingId });
    await failureOf(paypal.captureOrder({ orderId, bookingId: 'someone-else' }));

    const sent = sim.controls.requests();
    expect(sent.length).toBeGreaterThan(4);
    for (const request of sent) {
      expect(request.url).not.toContain('eyJ');
      expect(request.body).not.toContain('eyJ');
      expect(request.url).not.toMatch(/token=A21AA|access_token|client_secret/i);
    }
    for (const order of sim.controls.orders()) {
      expect(order.returnUrl).not.toContain('eyJ');
      expect(order.cancelUrl).not.toContain('eyJ');
    }
    const logged = logLines.join('\n');
    expect(logged).toContain('PayPal');
    expect(logged).not.toMatch(/A21AA|Bearer|Basic /);
    expect(logged).not.toContain(sim.credentials.clientSecret);
  });
});

describe('PayPal gateway against a misbehaving server', () => {
  let server: Server;
  let baseUrl: string;
  const fake = new Hono();
  fake.post('/v1/oauth2/token', (c) => c.json({ access_token: 'A21AAfake', token_type: 'Bearer', expires_in: 3600 }));
  fake.post('/v2/checkout/orders', (c) =>
    c.json({ id: 'ORDER1', status: 'CREATED', links: [{ rel: 'approve', href: 'javascript:alert(1)' }] }, 201),
  );
  fake.get('/v2/checkout/orders/STATUS', (c) => c.json({ id: 'STATUS', status: 'SHIPPED', purchase_units: [] }));
  fake.get('/v2/checkout/orders/AMOUNT', (c) =>
    c.json({
      id: 'AMOUNT',
      status: 'APPROVED',
      purchase_units: [{ amount: { currency_code: 'USD', value: '1.005' } }],
    }),
  );
  fake.get('/v2/checkout/orders/TEXT', (c) => c.text('<html>maintenance</html>', 200));
  fake.post('/v2/checkout/orders/:id/capture', (c) => c.redirect('http://127.0.0.1:9/elsewhere', 302));

  beforeAll(async () => {
    server = serve({ fetch: fake.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await new Promise((resolve) => server.once('listening', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.each([
    ['an unknown order status', (g: ReturnType<typeof gateway>) => g.getOrder('STATUS')],
    ['an amount that is not whole minor units', (g: ReturnType<typeof gateway>) => g.getOrder('AMOUNT')],
    ['a body that is not JSON', (g: ReturnType<typeof gateway>) => g.getOrder('TEXT')],
    ['an approval link that is not http(s)', (g: ReturnType<typeof gateway>) => g.createOrder(orderInput())],
    ['a redirect', (g: ReturnType<typeof gateway>) => g.captureOrder({ orderId: 'ANY', bookingId: 'b' })],
  ])('turns %s into unavailable', async (_name, call) => {
    const error = await failureOf(call(gateway({ baseUrl })));
    expect(error.kind).toBe('unavailable');
  });
});
