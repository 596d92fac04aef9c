import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { startTestServer, type TestServer } from './test/harness.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { CORS_ORIGINS: 'https://shop.example', BODY_LIMIT_BYTES: '2048' } });
});
afterAll(() => server?.close());

describe('HTTP host', () => {
  it('answers through app.request() with no socket in between (the same app the listener serves)', async () => {
    const app = buildApp(server.deps);
    const res = await app.request('/api/events?limit=1', { headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^[\w-]{8,64}$/);
    expect(await res.json()).toMatchObject({ items: [], nextCursor: null });
    const missing = await app.request('/api/nowhere');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('reports liveness and readiness', async () => {
    expect((await server.http('GET', '/healthz')).status).toBe(200);
    const ready = await server.http('GET', '/readyz');
    expect(ready).toMatchObject({ status: 200, body: { status: 'ready' } });
  });

  it('serves a valid OpenAPI 3.1 document listing the REST routes', async () => {
    const { status, body } = await server.http('GET', '/openapi.json');
    expect(status).toBe(200);
    expect(body.openapi).toBe('3.1.0');
    const validation = await new Validator().validate(structuredClone(body));
    expect(validation.errors ?? []).toEqual([]);
    expect(validation.valid).toBe(true);
    // errors are documented in the shape REST actually answers
    expect(body.components.schemas.Error.properties.error.properties.code.enum).toContain('SOLD_OUT');
    const book = body.paths['/events/{eventId}/book'].post.responses;
    // a hold asks nothing of PayPal, so it cannot fail with 502 or be rate limited (starting the payment can)
    expect(Object.keys(book)).toEqual(['200', '400', '401', '404', '409', '410', '413', '415', '422', '500', '503']);
    expect(Object.keys(body.paths['/bookings/{bookingId}/payment'].post.responses)).toEqual(
      expect.arrayContaining(['200', '404', '409', '429', '502']),
    );
    expect(book['409'].description).toContain('SOLD_OUT');
    expect(body.paths['/auth/login'].post.security).toEqual([]);
    expect(body.paths['/auth/me'].get.security).toEqual([{ Authorization: [] }]);
    expect(Object.keys(body.paths)).toEqual(expect.arrayContaining(['/auth/register', '/auth/login', '/auth/me']));
    expect(body.servers[0].url).toMatch(/\/api$/);
  });

  it('serves the interactive reference with its assets from our own origin', async () => {
    const page = await fetch(`${server.url}/docs`);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('/docs/assets/swagger-ui-bundle.js');
    const bundle = await fetch(`${server.url}/docs/assets/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
    expect((await fetch(`${server.url}/docs/assets/..%2Fpackage.json`)).status).toBe(404);
  });

  it('answers unknown routes with 404 in the error shape', async () => {
    const res = await server.http('GET', '/nowhere');
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'NOT_FOUND', requestId: expect.any(String) });
    const api = await server.http('GET', '/api/nowhere');
    expect(api.status).toBe(404);
    expect(api.body.error.code).toBe('NOT_FOUND');
  });

  it('answers a known REST path with the wrong method with 405 and Allow', async () => {
    const res = await server.http('PUT', '/api/auth/login', { body: {} });
    expect(res.status).toBe(405);
    expect(res.body.error.code).toBe('METHOD_NOT_ALLOWED');
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('answers malformed JSON with 400 MALFORMED_REQUEST, not 500', async () => {
    const res = await server.http('POST', '/api/auth/login', { body: '{"email": ' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('MALFORMED_REQUEST');
  });

  it('answers an invalid body with 400 and the field paths', async () => {
    const res = await server.http('POST', '/api/auth/register', {
      body: { email: 'not-an-email', username: 'ok_name' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    const paths = res.body.error.details.issues.map((issue: { path: string }) => issue.path).sort();
    expect(paths).toEqual(['email', 'password']);
  });

  it('limits body size with 413', async () => {
    const res = await server.http('POST', '/api/auth/login', { body: { email: 'a@b.co', password: 'x'.repeat(4000) } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('sets security headers, a request id, and CORS only for allowed origins', async () => {
    const allowed = await server.http('GET', '/healthz', { headers: { origin: 'https://shop.example' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(allowed.headers.get('x-content-type-options')).toBe('nosniff');
    expect(allowed.headers.get('x-request-id')).toMatch(/^[\w-]{8,}$/);
    const foreign = await server.http('GET', '/healthz', { headers: { origin: 'https://evil.example' } });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('exposes Prometheus metrics with per-route request histograms', async () => {
    await server.http('GET', '/healthz');
    const res = await fetch(`${server.url}/metrics`);
    const text = await res.text();
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(text).toMatch(
      /^boxoffice_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} [1-9]\d*$/m,
    );
    expect(text).toMatch(/^boxoffice_holds_open 0$/m);
    expect(text).toMatch(/^boxoffice_jobs_pending \d+$/m);
  });

  it('guards metrics with METRICS_TOKEN when one is set', async () => {
    const guarded = await startTestServer({ env: { METRICS_TOKEN: 'metrics-token-123' } });
    try {
      expect((await guarded.http('GET', '/metrics')).status).toBe(403);
      expect((await guarded.http('GET', '/metrics', { token: 'wrong' })).status).toBe(403);
      expect((await guarded.http('GET', '/metrics', { token: 'metrics-token-123' })).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });

  it('caps tRPC batches at 10 calls', async () => {
    const batch = (n: number) => {
      const calls = Array.from({ length: n }, () => 'events.list').join(',');
      const input = Object.fromEntries(Array.from({ length: n }, (_, i) => [i, {}]));
      return server.http('GET', `/trpc/${calls}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`);
    };
    expect((await batch(10)).status).toBe(200);
    expect((await batch(11)).status).toBe(400);
  });

  it('refuses NUL characters anywhere in an input with 400, not a database error', async () => {
    const res = await server.http('GET', '/api/events?q=ab%00cd');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { issues: [{ path: 'q' }] } });
  });
});
