import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedEvent } from './test/fixtures.ts';
import { type HttpResult, type LooseJson, signInAdmin, startTestServer, type TestServer } from './test/harness.ts';

// Whatever a client sends, the answer is a 4xx in the error shape, never a 500: every REST
// operation is taken from the OpenAPI document, so a new one is scanned without editing this file.

type Schema = {
  type?: string;
  format?: string;
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
};
type Operation = {
  operationId: string;
  parameters?: { name: string; in: 'path' | 'query'; schema: Schema }[];
  requestBody?: { content: { 'application/json': { schema: Schema } } };
};

/** Keys every plain object answers to through its prototype. */
const BUILT_IN_KEYS = [...Object.getOwnPropertyNames(Object.prototype), 'prototype', 'then', 'length', 'name'];

const DATE_LIMITS = [
  '0000-01-01T00:00:00Z',
  '0001-01-01T00:00:00Z',
  '1969-12-31T23:59:59Z',
  '9999-12-31T23:59:59Z',
  '9999-12-31T23:59:59-14:00',
  '10000-01-01T00:00:00Z',
  '+010000-01-01T00:00:00Z',
  '-000001-01-01T00:00:00Z',
];
const INT_LIMITS = [
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31),
  -(2 ** 31) - 1,
  2 ** 53 - 1,
  2 ** 53,
  -(2 ** 53),
  1e308,
  -1e308,
  0.5,
];

const kind = (schema: Schema): 'date' | 'number' | null => {
  const variants = schema.anyOf ?? [schema];
  if (variants.some((s) => s.format === 'date-time')) return 'date';
  if (variants.some((s) => s.type === 'integer' || s.type === 'number')) return 'number';
  return null;
};

let server: TestServer;
let admin: string;
let eventId: string;
let operations: { method: string; path: string; op: Operation }[];
const found: { request: string; status: number; body: unknown }[] = [];

beforeAll(async () => {
  server = await startTestServer({ env: { HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '1500' } });
  admin = (await signInAdmin(server)).accessToken;
  eventId = await seedEvent(server, { capacity: 1_000_000, maxPerOrder: 1000, maxPerUser: 1000 });
  const doc = (await server.http('GET', '/openapi.json')).body;
  // the REST API's operations: the document's routes outside /api name their own server
  operations = Object.entries(doc.paths as Record<string, Record<string, Operation>>)
    .filter(([, item]) => !('servers' in item))
    .flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
    );
});
afterAll(() => server?.close());
beforeEach(() => {
  found.length = 0;
});

/** The path with its parameters filled: the seeded event where one is named, a random id elsewhere. */
function fill(path: string): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => (name === 'eventId' ? eventId : randomUUID()));
}

/** Sends one request, records anything that is not a 4xx in the error shape (or a success). */
async function probe(method: string, path: string, body?: unknown): Promise<HttpResult> {
  const res = await server.http(method, `/api${path}`, {
    token: admin,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const shaped = res.status < 400 || (res.status < 500 && typeof res.body?.error?.code === 'string');
  if (!shaped) found.push({ request: `${method} ${path} ${body === undefined ? '' : JSON.stringify(body)}`, ...res });
  return res;
}

/** A body that passes validation, so a changed field is what reaches the service and the database. */
function validBody(operationId: string): Record<string, unknown> {
  const inAWeek = new Date(Date.now() + 7 * 86_400_000).toISOString();
  if (operationId === 'events-create')
    return {
      title: 'Limits',
      venueName: 'Hall',
      address: '1 Main St',
      startsAt: inAWeek,
      timezone: 'Europe/Berlin',
      priceMinor: 100,
      currency: 'EUR',
      capacity: 10,
      latitude: 52.5,
      longitude: 13.4,
    };
  return {};
}

describe('REST input at the edges', () => {
  it('every GET with a built-in property name as a query key answers below 500', async () => {
    const gets = operations.filter((o) => o.method === 'GET');
    expect(gets.length).toBeGreaterThan(3);
    for (const { path } of gets)
      for (const key of BUILT_IN_KEYS) {
        const k = encodeURIComponent(key);
        await probe('GET', `${fill(path)}?${k}=1`);
        await probe('GET', `${fill(path)}?${k}=1&${k}=2`);
        await probe('GET', `${fill(path)}?${k}[a]=1`);
      }
    expect(found).toEqual([]);
  });

  it('every date and number parameter at its type’s limits answers below 500', async () => {
    let probes = 0;
    for (const { method, path, op } of operations) {
      for (const param of op.parameters ?? []) {
        if (param.in !== 'query') continue;
        const values = { date: DATE_LIMITS, number: INT_LIMITS, null: [] }[kind(param.schema) ?? 'null'];
        // coordinates come in pairs; the other half is a plain value so the limit is what is tested
        const partner = param.name === 'nearLat' ? '&nearLng=0' : param.name === 'nearLng' ? '&nearLat=0' : '';
        for (const value of values) {
          probes += 1;
          await probe(method, `${fill(path)}?${param.name}=${encodeURIComponent(String(value))}${partner}`);
        }
      }
      const schema = op.requestBody?.content['application/json'].schema;
      for (const [name, field] of Object.entries(schema?.properties ?? {})) {
        const values = { date: DATE_LIMITS, number: INT_LIMITS, null: [] }[kind(field) ?? 'null'];
        for (const value of values) {
          probes += 1;
          await probe(method, fill(path), { ...validBody(op.operationId), [name]: value });
        }
      }
    }
    expect(probes).toBeGreaterThan(50);
    expect(found).toEqual([]);
  });

  it('forged cursors with out-of-range keys are refused, not sent to the database', async () => {
    const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const id = randomUUID();
    const eventCursors = [
      ...DATE_LIMITS.map((k) => ({ sort: 'startsAt', c: { s: 'startsAt', k, id } })),
      ...INT_LIMITS.map((k) => ({ sort: 'price', c: { s: 'price', k, id } })),
      ...INT_LIMITS.map((k) => ({ sort: 'distance', c: { s: 'distance', k, id } })),
    ];
    for (const { sort, c } of eventCursors) {
      const near = sort === 'distance' ? '&nearLat=52.5&nearLng=13.4' : '';
      await probe('GET', `/events?sort=${sort}${near}&cursor=${cursor(c)}`);
    }
    for (const date of DATE_LIMITS) {
      await probe('GET', `/bookings?cursor=${cursor([date, id])}`);
      await probe('GET', `/admin/bookings?cursor=${cursor([date, id])}`);
    }
    expect(found).toEqual([]);
  });

  it('a body that is JSON but not an object is refused with 400 on every POST and PATCH', async () => {
    const writes = operations.filter((o) => o.method === 'POST' || o.method === 'PATCH');
    expect(writes.length).toBeGreaterThan(3);
    const refused: string[] = [];
    for (const { method, path } of writes)
      for (const body of [[1, 2], false, true, 'x', null, 0, []]) {
        const res = await probe(method, fill(path), body);
        if (res.status !== 400 || !['VALIDATION_FAILED', 'MALFORMED_REQUEST'].includes(res.body?.error?.code))
          refused.push(`${method} ${path} ${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.body)}`);
      }
    // the earlier service's form, with the quantity in the query string, too
    for (const body of [[1, 2], false, 'x', null, 0]) {
      const res = await probe('POST', `${fill('/events/{eventId}/book')}?ticket_quantity=1`, body);
      if (res.status !== 400) refused.push(`book?ticket_quantity ${JSON.stringify(body)} → ${res.status}`);
    }
    expect(refused).toEqual([]);
    expect(found).toEqual([]);
    // nothing was booked by any of them
    const [held] = await server.sql<{ n: number }>('SELECT count(*)::int AS n FROM bookings WHERE event_id = ?', [
      eventId,
    ]);
    expect(held?.n).toBe(0);
  });
});

/** Writes raw bytes to the listener and reads until it closes the connection. */
function rawExchange(request: string | Buffer, opts: { endAfterWrite?: boolean } = {}): Promise<string> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname === 'localhost' ? '127.0.0.1' : hostname, port: Number(port) });
    let received = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', (error) => (received ? resolve(received) : reject(error)));
    socket.on('close', () => resolve(received));
    socket.write(request, () => {
      if (opts.endAfterWrite) socket.end();
    });
  });
}

function parseRaw(raw: string): { status: number; headers: string; body: LooseJson } {
  const [head = '', ...rest] = raw.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  let body: unknown = rest.join('\r\n\r\n');
  try {
    body = JSON.parse(body as string);
  } catch {
    // keep the text
  }
  return { status, headers: head.toLowerCase(), body };
}

describe('requests node cannot parse', () => {
  it('a 100 KB header gets 431 with a JSON error body', async () => {
    const res = parseRaw(
      await rawExchange(`GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`),
    );
    expect(res.status).toBe(431);
    expect(res.headers).toContain('content-type: application/json');
    expect(res.body).toMatchObject({ error: { code: 'HEADERS_TOO_LARGE', message: expect.any(String) } });
  });

  it('garbage instead of HTTP gets 400 with a JSON error body', async () => {
    const res = parseRaw(await rawExchange('GARBAGE\r\n\r\n'));
    expect(res.status).toBe(400);
    expect(res.headers).toContain('content-type: application/json');
    expect(res.body).toMatchObject({ error: { code: 'MALFORMED_REQUEST', message: expect.any(String) } });
  });

  it('a request whose headers never finish gets 408 with a JSON error body, in bounded time', async () => {
    const started = performance.now();
    const res = parseRaw(await rawExchange('GET /healthz HTTP/1.1\r\nHost: localhost\r\n'));
    expect(res.status).toBe(408);
    expect(res.body).toMatchObject({ error: { code: 'REQUEST_TIMEOUT', message: expect.any(String) } });
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
