import { listenPayPalSimulator } from '@boxoffice/paypal-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { createPayPalGateway } from '../payments/paypal/gateway.ts';
import { startTestServer, type TestServer } from '../test/harness.ts';
import { Metrics } from './metrics.ts';

/** The value of the one sample whose name and labels match exactly (labels in any order). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    const same =
      Object.keys(found).length === Object.keys(labels).length &&
      Object.entries(labels).every(([key, value]) => found[key] === value);
    if (same) return Number(match[3]);
  }
  return undefined;
}

describe('Metrics', () => {
  it('counts hold outcomes, held and confirmed from zero, refusals by their code', async () => {
    const metrics = new Metrics();
    let text = await metrics.render();
    expect(sample(text, 'boxoffice_holds_total', { outcome: 'held' })).toBe(0);
    expect(sample(text, 'boxoffice_holds_total', { outcome: 'confirmed' })).toBe(0);
    metrics.holdOutcome('held');
    metrics.holdOutcome('held');
    metrics.holdOutcome('SOLD_OUT');
    metrics.holdOutcome('confirmed');
    text = await metrics.render();
    expect(sample(text, 'boxoffice_holds_total', { outcome: 'held' })).toBe(2);
    expect(sample(text, 'boxoffice_holds_total', { outcome: 'confirmed' })).toBe(1);
    expect(sample(text, 'boxoffice_holds_total', { outcome: 'SOLD_OUT' })).toBe(1);
    expect(text).toMatch(/^# TYPE boxoffice_holds_total counter$/m);
  });

  it('histograms requests with buckets, _sum and _count', async () => {
    const metrics = new Metrics();
    metrics.observeRequest('GET', '/healthz', 200, 0.003);
    metrics.observeRequest('GET', '/healthz', 200, 0.2);
    const text = await metrics.render();
    const labels = { method: 'GET', route: '/healthz', status: '200' };
    const name = 'boxoffice_http_request_duration_seconds';
    expect(text).toMatch(new RegExp(`^# TYPE ${name} histogram$`, 'm'));
    expect(sample(text, `${name}_bucket`, { ...labels, le: '0.005' })).toBe(1);
    expect(sample(text, `${name}_bucket`, { ...labels, le: '0.25' })).toBe(2);
    expect(sample(text, `${name}_bucket`, { ...labels, le: '10' })).toBe(2);
    expect(sample(text, `${name}_bucket`, { ...labels, le: '+Inf' })).toBe(2);
    expect(sample(text, `${name}_count`, labels)).toBe(2);
    expect(sample(text, `${name}_sum`, labels)).toBeCloseTo(0.203);
  });

  it('reads gauges at scrape time; a failing read reports no sample and the scrape still answers', async () => {
    const warnings: unknown[] = [];
    const metrics = new Metrics({ log: { warn: (entry: unknown) => warnings.push(entry) } as never });
    let open = 3;
    let failing = false;
    metrics.gauge('test_open', 'Open things.', async () => {
      if (failing)
        throw Object.assign(new Error('password authentication failed for user "secret"'), { code: '28P01' });
      return open;
    });
    metrics.labeledGauge('test_pool', 'Pool by state.', 'state', async () => {
      if (failing) throw new Error('down');
      return { used: 1, free: 4 };
    });
    expect(sample(await metrics.render(), 'test_open')).toBe(3);
    open = 5;
    expect(sample(await metrics.render(), 'test_open')).toBe(5);

    failing = true;
    const text = await metrics.render();
    expect(text).toMatch(/^# TYPE test_open gauge$/m);
    expect(sample(text, 'test_open')).toBeUndefined();
    expect(sample(text, 'test_pool', { state: 'used' })).toBeUndefined();
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);
    await metrics.render();
    // once per failure spell, naming the metric and the error code, never the message
    expect(warnings).toHaveLength(2);
    expect(JSON.stringify(warnings)).not.toContain('secret');
    expect(warnings[0]).toMatchObject({ metric: 'test_open', error: '28P01' });

    failing = false;
    expect(sample(await metrics.render(), 'test_pool', { state: 'free' })).toBe(4);
  });

  it('counts and times each PayPal call by operation and result', async () => {
    const sim = await listenPayPalSimulator({ allowedRedirectPrefixes: ['http://localhost:3000/payments/paypal/'] });
    try {
      const metrics = new Metrics();
      const gateway = createPayPalGateway({
        ...sim.credentials,
        environment: 'sandbox',
        baseUrl: sim.baseUrl,
        timeoutMs: 2000,
        maxRetries: 0,
        observeCall: metrics.observePayPalCall,
      });
      const bookingId = '0b9a7d52-0000-4000-8000-00000000aa01';
      await gateway.createOrder({
        bookingId,
        amountMinor: 2500,
        currency: 'USD',
        description: 'Spring Concert, 2 tickets',
        returnUrl: `http://localhost:3000/payments/paypal/return?ref=${bookingId}.sig`,
        cancelUrl: `http://localhost:3000/payments/paypal/cancel?ref=${bookingId}.sig`,
      });
      await expect(gateway.getOrder('NO-SUCH-ORDER')).rejects.toMatchObject({ kind: 'not_found' });
      const text = await metrics.render();
      expect(sample(text, 'boxoffice_paypal_calls_total', { operation: 'createOrder', result: 'ok' })).toBe(1);
      expect(sample(text, 'boxoffice_paypal_calls_total', { operation: 'getOrder', result: 'not_found' })).toBe(1);
      expect(
        sample(text, 'boxoffice_paypal_call_duration_seconds_count', { operation: 'createOrder', result: 'ok' }),
      ).toBe(1);
      expect(
        sample(text, 'boxoffice_paypal_call_duration_seconds_bucket', {
          operation: 'getOrder',
          result: 'not_found',
          le: '+Inf',
        }),
      ).toBe(1);
    } finally {
      await sim.close();
    }
  });
});

describe('GET /metrics', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  it('shows request histograms per matched route, process metrics, and the scrape-time gauges', async () => {
    for (let i = 0; i < 3; i++) await server.http('GET', '/healthz');
    await server.http('GET', '/api/auth/me');
    await server.http('GET', '/trpc/auth.me');
    const res = await server.http('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.body as string;
    const name = 'boxoffice_http_request_duration_seconds';
    const healthz = { method: 'GET', route: '/healthz', status: '200' };
    expect(sample(text, `${name}_count`, healthz)).toBe(3);
    expect(sample(text, `${name}_bucket`, { ...healthz, le: '+Inf' })).toBe(3);
    expect(text).toMatch(
      new RegExp(`^${name}_bucket\\{le="0\\.005",method="GET",route="/healthz",status="200"\\} \\d+$`, 'm'),
    );
    expect(sample(text, `${name}_count`, { method: 'GET', route: '/api/*', status: '401' })).toBe(1);
    expect(sample(text, `${name}_count`, { method: 'GET', route: '/trpc/*', status: '401' })).toBe(1);
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'boxoffice_holds_open')).toBe(0);
    expect(text).toMatch(/^# TYPE boxoffice_jobs_pending gauge$/m);
    expect(sample(text, 'boxoffice_holds_total', { outcome: 'held' })).toBe(0);
    for (const state of ['used', 'free', 'pending'])
      expect(sample(text, 'boxoffice_db_pool_connections', { state })).toBeGreaterThanOrEqual(0);
  });

  it('counts pool connections in use while a query holds one', async () => {
    const slow = server.sql('SELECT pg_sleep(0.5)');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const text = (await server.http('GET', '/metrics')).body as string;
    await slow;
    expect(sample(text, 'boxoffice_db_pool_connections', { state: 'used' })).toBeGreaterThanOrEqual(1);
  });

  it('refuses a caller that is not on loopback', async () => {
    const app = buildApp(server.deps);
    const socket = (remoteAddress: string) => ({ incoming: { socket: { remoteAddress, remoteFamily: 'IPv4' } } });
    expect((await app.fetch(new Request('http://x/metrics'), socket('198.51.100.3'))).status).toBe(403);
    expect((await app.fetch(new Request('http://x/metrics'), socket('127.0.0.1'))).status).toBe(200);
  });

  it('behind a proxy (TRUST_PROXY=true) judges the forwarded client, not the proxy on loopback', async () => {
    const proxied = await startTestServer({ env: { TRUST_PROXY: 'true' }, shareDatabaseOf: server });
    try {
      const outside = await proxied.http('GET', '/metrics', { headers: { 'x-forwarded-for': '203.0.113.9' } });
      expect(outside.status).toBe(403);
      expect(outside.body.error.code).toBe('FORBIDDEN');
      // a client that put 127.0.0.1 first gains nothing: the proxy appended the real address last
      const spoofed = await proxied.http('GET', '/metrics', {
        headers: { 'x-forwarded-for': '127.0.0.1, 203.0.113.9' },
      });
      expect(spoofed.status).toBe(403);
      expect((await proxied.http('GET', '/metrics', { headers: { 'x-forwarded-for': '127.0.0.1' } })).status).toBe(200);
    } finally {
      await proxied.close();
    }
  });
});
