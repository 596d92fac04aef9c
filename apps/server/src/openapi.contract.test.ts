import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SUPPORTED_CURRENCIES } from '@boxoffice/contracts';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEvent } from './test/fixtures.ts';
import { type LooseJson, signInAdmin, signUp, startTestServer, type TestServer } from './test/harness.ts';

/*
 * The OpenAPI document checked against the server that serves it. Every operation comes from the
 * document itself (none is listed here), is called with the values its examples give (the ones the
 * API reference pre-fills), and each answer's status and body must be what the document says.
 */

/**
 * Routes the document describes that are still being built: a 404 from one of these is reported,
 * not failed. Remove each when its route has landed.
 */
const PENDING_ROUTES = new Set(['webhooks-paypal', 'payments-start']);

/**
 * Operations whose example request can succeed only after something outside the API happened: a
 * buyer's approval at PayPal (return; a refund needs a paid booking), PayPal's signature (webhook).
 */
const SUCCEEDS_ONLY_WITH_OUTSIDE_STATE = new Set([
  'payments-return',
  'bookings-refund',
  'webhooks-paypal',
  // a waiting room to be in, a sold-out event's waitlist to be on
  'queue-join',
  'queue-status',
  'queue-stream',
  'queue-state',
  'waitlist-join',
  'waitlist-mine',
  'waitlist-leave',
]);

type Schema = LooseJson;
type Parameter = {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  example?: unknown;
  schema?: Schema;
};
type Operation = {
  operationId: string;
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema; example?: unknown }> };
  responses: Record<string, { content?: Record<string, { schema?: Schema; example?: unknown; examples?: LooseJson }> }>;
};
type Call = { method: string; route: string; baseUrl: string; operation: Operation };

const run = promisify(execFile);
let server: TestServer;
let doc: LooseJson;
let calls: Call[];
let adminToken: string;
let ajv: Ajv2020;

beforeAll(async () => {
  server = await startTestServer();
  adminToken = (await signInAdmin(server)).accessToken;
  doc = (await server.http('GET', '/openapi.json')).body;
  ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  // the document's own keyword for examples, which JSON Schema does not define
  ajv.addKeyword('example');
  ajv.addSchema({ components: doc.components }, 'doc');
  calls = Object.entries(doc.paths as Record<string, LooseJson>).flatMap(([route, item]) =>
    Object.entries(item)
      .filter(([method]) => ['get', 'post', 'patch', 'put', 'delete'].includes(method))
      .map(([method, operation]) => ({
        method: method.toUpperCase(),
        route,
        // routes outside /api name their own server
        baseUrl: item.servers ? server.url : `${server.url}/api`,
        operation: operation as Operation,
      })),
  );
});
afterAll(() => server?.close());

/** A JSON value as the API reference's "Try it out" builds it from a schema (Swagger UI: defaults, then examples). */
function sample(schema: Schema): unknown {
  if (!schema || typeof schema !== 'object') return undefined;
  if (schema.$ref) return sample(resolve(schema.$ref));
  if ('default' in schema) return schema.default;
  if ('example' in schema) return schema.example;
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return sample(variants.find((v: Schema) => v.type !== 'null') ?? variants[0]);
  if (schema.type === 'object' || schema.properties)
    return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([key, value]) => [key, sample(value)]));
  if (schema.type === 'array') return [sample(schema.items)];
  if (schema.type === 'integer' || schema.type === 'number') return schema.minimum ?? 0;
  if (schema.type === 'boolean') return true;
  if (schema.format === 'date-time') return '2019-08-24T14:15:22Z';
  if (schema.format === 'uuid') return '3fa85f64-5717-4562-b3fc-2c963f66afa6';
  if (schema.format === 'email') return 'user@example.com';
  return 'string';
}

function resolve(ref: string): Schema {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce((node: LooseJson, key) => node?.[key], doc);
}

const validators = new Map<Schema, ValidateFunction>();
/** Checks a value against a schema of the document (its $refs resolved against the document). */
function conforms(schema: Schema, value: unknown): string[] {
  let validate = validators.get(schema);
  if (!validate) {
    const rebased = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/'));
    validate = ajv.compile(rebased);
    validators.set(schema, validate);
  }
  return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`);
}

/**
 * Fresh state for one call: a buyer and a published event, and, when the operation is about a
 * booking, the buyer's hold on it with its payment link.
 */
async function freshState(call: Call) {
  const buyer = await signUp(server, 'contract');
  const eventId = await seedEvent(server, { capacity: 100, maxPerOrder: 10, maxPerUser: 10 });
  const aboutBooking = (call.operation.parameters ?? []).some((p) => ['bookingId', 'ref', 'token'].includes(p.name));
  if ((call.operation.parameters ?? []).some((p) => p.name === 'ticketId')) {
    // a ticket exists once a booking is confirmed: a free one is at once
    const free = await seedEvent(server, { capacity: 10, priceMinor: 0 });
    const booked = await server.http('POST', `/api/events/${free}/book`, { token: buyer.accessToken, body: {} });
    const tickets = await server.http('GET', `/api/bookings/${booked.body.id}/tickets`, { token: buyer.accessToken });
    return {
      buyer,
      values: { eventId, ticketId: tickets.body.items[0].id } as Record<string, string>,
      body: { refreshToken: buyer.refreshToken, userId: buyer.id } as Record<string, unknown>,
    };
  }
  if (!aboutBooking)
    return {
      buyer,
      values: { eventId } as Record<string, string>,
      body: { refreshToken: buyer.refreshToken, userId: buyer.id } as Record<string, unknown>,
    };
  const hold = await server.http('POST', `/api/events/${eventId}/book`, { token: buyer.accessToken, body: {} });
  if (hold.status !== 200) throw new Error(`could not hold: ${JSON.stringify(hold.body)}`);
  const link = new URL(hold.body.paymentUrl);
  const start = await fetch(link, { redirect: 'manual' });
  const approval = new URL(start.headers.get('location') ?? 'http://none/');
  return {
    buyer,
    // the path parameters and query values the server itself hands out
    values: {
      eventId,
      bookingId: hold.body.id as string,
      ref: link.searchParams.get('ref') ?? '',
      token: approval.searchParams.get('token') ?? '',
    } as Record<string, string>,
    // body fields that must be real to succeed
    body: { refreshToken: buyer.refreshToken, userId: buyer.id } as Record<string, unknown>,
  };
}

function needsToken(operation: Operation): 'admin' | 'user' | null {
  const security: Record<string, string[]>[] = operation.security ?? doc.security ?? [];
  if (!security.length || security.some((requirement) => Object.keys(requirement).length === 0)) return null;
  const forbidden = JSON.stringify(operation.responses['403'] ?? '');
  return forbidden.includes('FORBIDDEN') ? 'admin' : 'user';
}

type Sent = { status: number; headers: Headers; body: unknown; text: string; request: string };

/** Builds the request from the operation's examples (and fresh state), sends it, and returns the answer. */
async function send(
  call: Call,
  state: Awaited<ReturnType<typeof freshState>>,
  change: { token?: string | null; extraQuery?: boolean; extraBody?: boolean; contentType?: string } = {},
): Promise<Sent> {
  const { operation } = call;
  const headers: Record<string, string> = { accept: 'application/json' };
  const query = new URLSearchParams();
  let route = call.route;
  for (const parameter of operation.parameters ?? []) {
    const value = state.values[parameter.name] ?? parameter.example ?? parameter.schema?.example;
    if (value === undefined) {
      if (parameter.required) throw new Error(`${operation.operationId}: no value for required ${parameter.name}`);
      continue;
    }
    if (parameter.in === 'path') route = route.replace(`{${parameter.name}}`, encodeURIComponent(String(value)));
    if (parameter.in === 'query') query.set(parameter.name, String(value));
    if (parameter.in === 'header') headers[parameter.name] = String(value);
  }
  if (change.extraQuery) query.set('unexpectedField', '1');
  const role = needsToken(operation);
  const token =
    change.token === undefined ? (role === 'admin' ? adminToken : role ? state.buyer.accessToken : null) : change.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  const media = operation.requestBody?.content['application/json'];
  if (media || change.extraBody) {
    const example = (media?.example ?? sample(media?.schema)) as Record<string, unknown> | undefined;
    const filled = { ...example };
    for (const key of Object.keys(filled)) if (key in state.body) filled[key] = state.body[key];
    if (change.extraBody) filled.unexpectedField = 1;
    body = JSON.stringify(filled);
    headers['content-type'] = change.contentType ?? 'application/json';
  }
  const url = `${call.baseUrl}${route}${query.size ? `?${query}` : ''}`;
  const response = await fetch(url, { method: call.method, headers, body, redirect: 'manual' });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // a page or a redirect: kept as text
  }
  return {
    status: response.status,
    headers: response.headers,
    body: parsed,
    text,
    request: `${call.method} ${url} ${body ?? ''}`,
  };
}

/** The answer is one the document describes: its status is listed, and its body fits that status's schema. */
function expectDocumented(call: Call, sent: Sent) {
  const label = `${call.operation.operationId} → ${sent.status} (${sent.request}): ${sent.text.slice(0, 300)}`;
  const documented = call.operation.responses[String(sent.status)];
  expect(documented, `undocumented status: ${label}`).toBeDefined();
  const type = sent.headers.get('content-type')?.split(';')[0] ?? '';
  if (!documented?.content) return;
  const media = documented.content[type];
  expect(media, `undocumented content type ${type}: ${label}`).toBeDefined();
  if (type === 'application/json' && media?.schema) expect(conforms(media.schema, sent.body), label).toEqual([]);
}

function isPending(call: Call, sent: Sent): boolean {
  if (!PENDING_ROUTES.has(call.operation.operationId) || sent.status !== 404) return false;
  console.warn(`pending: ${call.method} ${call.route} is documented but answers 404`);
  return true;
}

describe('the OpenAPI document', () => {
  it('covers the REST API, the payment pages, the webhook and the probes', () => {
    const operations = calls.map((call) => `${call.method} ${call.route}`);
    expect(operations).toEqual(
      expect.arrayContaining([
        'POST /auth/login',
        'POST /events/{eventId}/book',
        'GET /payments/paypal/start',
        'GET /payments/paypal/return',
        'GET /payments/paypal/cancel',
        'POST /webhooks/paypal',
        'GET /healthz',
        'GET /readyz',
      ]),
    );
    expect(calls.every((call) => call.operation.operationId)).toBe(true);
    expect(doc.components.securitySchemes.Authorization).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('says what "Try it out" gets wrong otherwise: bounds, examples, parameters, optional bodies, currencies, statuses', () => {
    const text = JSON.stringify(doc);
    expect(text).not.toContain('9007199254740991');
    const book = doc.paths['/events/{eventId}/book'].post as Operation;
    const body = book.requestBody?.content['application/json'];
    expect(book.requestBody?.required).toBe(false);
    expect(sample(body?.schema)).toMatchObject({ quantity: 2 });
    expect(body?.schema.additionalProperties).toBe(false);
    expect(book.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual(
      expect.arrayContaining(['path:eventId', 'header:Idempotency-Key', 'query:ticket_quantity']),
    );
    const create = doc.paths['/events'].post as Operation;
    expect(create.requestBody?.content['application/json']?.schema.properties.currency.enum).toEqual([
      ...SUPPORTED_CURRENCIES,
    ]);
    for (const call of calls.filter((c) => c.baseUrl.endsWith('/api'))) {
      expect(Object.keys(call.operation.responses), call.operation.operationId).toContain('503');
      if (call.operation.requestBody)
        expect(Object.keys(call.operation.responses), call.operation.operationId).toEqual(
          expect.arrayContaining(['413', '415']),
        );
    }
    expect(JSON.stringify(doc.paths['/readyz'].get.responses['503'])).toContain('NOT_READY');
  });

  it('every error example is an error body the document allows', () => {
    for (const call of calls)
      for (const [status, response] of Object.entries(call.operation.responses))
        for (const [type, media] of Object.entries(response.content ?? {}))
          for (const example of Object.values(media.examples ?? {}) as { value: unknown }[])
            if (type === 'application/json')
              expect(conforms(media.schema, example.value), `${call.operation.operationId} ${status}`).toEqual([]);
  });

  it('gives types with openapi-typescript that compile', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'boxoffice-openapi-'));
    try {
      await writeFile(path.join(dir, 'api.d.ts'), astToString(await openapiTS(doc)));
      await writeFile(
        path.join(dir, 'use.ts'),
        [
          "import type { components, operations, paths } from './api.d.ts';",
          "type Booking = paths['/events/{eventId}/book']['post']['responses'][200]['content']['application/json'];",
          "export const total: Booking['totalMinor'] = 3000;",
          "export const code: components['schemas']['Error']['error']['code'] = 'SOLD_OUT';",
          "type NewEvent = NonNullable<operations['events-create']['requestBody']>['content']['application/json'];",
          "export const currency: NewEvent['currency'] = 'EUR';",
          '// @ts-expect-error not a supported currency',
          "export const unsupported: NewEvent['currency'] = 'XYZ';",
          '// @ts-expect-error not an error code',
          "export const wrong: components['schemas']['Error']['error']['code'] = 'SOLD_OUTT';",
        ].join('\n'),
      );
      const tsc = path.resolve(import.meta.dirname, '../node_modules/typescript/bin/tsc');
      await run(
        process.execPath,
        [
          tsc,
          '--noEmit',
          '--strict',
          '--allowImportingTsExtensions',
          '--module',
          'nodenext',
          '--target',
          'es2022',
          '--skipLibCheck',
          'false',
          'use.ts',
        ],
        { cwd: dir },
      ).catch((error: { stdout?: string }) => {
        throw new Error(`the generated types do not compile:\n${error.stdout}`);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('every operation in the document, called as documented', () => {
  it('its examples are valid requests, and each answer is documented and shaped as documented', async () => {
    const outcomes: string[] = [];
    for (const call of calls) {
      const state = await freshState(call);
      const sent = await send(call, state);
      outcomes.push(`${call.operation.operationId} ${sent.status}`);
      if (isPending(call, sent)) continue;
      expectDocumented(call, sent);
      const code = (sent.body as LooseJson)?.error?.code;
      expect(
        ['VALIDATION_FAILED', 'MALFORMED_REQUEST', 'UNSUPPORTED_MEDIA_TYPE'],
        `${sent.request} → ${sent.text}`,
      ).not.toContain(code);
      if (!SUCCEEDS_ONLY_WITH_OUTSIDE_STATE.has(call.operation.operationId))
        expect(sent.status, `${sent.request} → ${sent.text.slice(0, 300)}`).toBeLessThan(400);
    }
    expect(outcomes.length).toBe(calls.length);
  }, 120_000);

  it('an input it does not define is refused with 400 VALIDATION_FAILED, on every API operation (strict inputs)', async () => {
    for (const call of calls.filter((c) => c.baseUrl.endsWith('/api'))) {
      const state = await freshState(call);
      const hasBody = call.method !== 'GET';
      const sent = await send(call, state, hasBody ? { extraBody: true } : { extraQuery: true });
      expectDocumented(call, sent);
      expect(sent.status, sent.request).toBe(400);
      expect(sent.body, sent.request).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
      expect(JSON.stringify(sent.body), sent.request).toContain('unexpectedField');
    }
  }, 120_000);

  it('without a token, every operation that needs one answers the documented 401', async () => {
    for (const call of calls.filter((c) => needsToken(c.operation))) {
      const sent = await send(call, await freshState(call), { token: null });
      expectDocumented(call, sent);
      expect(sent.status, sent.request).toBe(401);
    }
  }, 60_000);

  it('a body that is not JSON is the documented 415 wherever a body is taken', async () => {
    for (const call of calls.filter((c) => c.baseUrl.endsWith('/api') && c.operation.requestBody)) {
      const sent = await send(call, await freshState(call), { contentType: 'text/plain' });
      expectDocumented(call, sent);
      expect(sent.status, sent.request).toBe(415);
    }
  }, 60_000);

  it('an event changed since the version sent is a 409 EVENT_VERSION_CONFLICT, and nothing changes', async () => {
    const eventId = await seedEvent(server, { title: 'Versioned' });
    const read = await server.http('GET', `/api/events/${eventId}`);
    const first = await server.http('PATCH', `/api/events/${eventId}`, {
      token: adminToken,
      body: { version: read.body.version, title: 'Renamed once' },
    });
    expect(first.status).toBe(200);
    expect(first.body.version).toBeGreaterThan(read.body.version);
    const stale = await server.http('PATCH', `/api/events/${eventId}`, {
      token: adminToken,
      body: { version: read.body.version, title: 'Renamed from a stale read' },
    });
    expect(stale).toMatchObject({
      status: 409,
      body: { error: { code: 'EVENT_VERSION_CONFLICT', details: { version: first.body.version } } },
    });
    expect((await server.http('GET', `/api/events/${eventId}`)).body.title).toBe('Renamed once');
  });
});
