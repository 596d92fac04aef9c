import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBuyers, seedEvent } from './test/fixtures.ts';
import { type LooseJson, signInAdmin, startTestServer, type TestServer } from './test/harness.ts';

// Property-based bad input over every REST operation in /openapi.json and over tRPC: whatever is
// generated (bodies, path ids, query strings, headers), the answer is a 4xx in the error shape with
// a code, never a 5xx or a stack trace, and no row changes. The seed is printed; a failing run is
// replayed with BAD_INPUT_SEED=<seed>.

const SEED = Number(process.env.BAD_INPUT_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.BAD_INPUT_RUNS ?? 5000);

/** The tables whose rows a refused request must leave as they were. */
const TABLES = [
  'users',
  'events',
  'bookings',
  'payments',
  'refresh_tokens',
  'idempotency_keys',
  'geocode_cache',
  'waiting_rooms',
  'queue_entries',
  'waitlist_entries',
];

let server: TestServer;
let tokens: { admin: string; user: string };
let eventId: string;
let operations: { method: string; path: string }[];

beforeAll(async () => {
  server = await startTestServer();
  const [buyer] = await makeBuyers(server, 1);
  tokens = { admin: (await signInAdmin(server)).accessToken, user: buyer!.token };
  eventId = await seedEvent(server, { capacity: 100 });
  const doc = (await server.http('GET', '/openapi.json')).body as LooseJson;
  // the REST API's operations (routes outside /api, such as PayPal's, name their own server)
  operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
    .filter(([, item]) => !('servers' in item))
    .flatMap(([path, item]) =>
      Object.keys(item)
        .filter((method) => ['get', 'post', 'patch', 'put', 'delete'].includes(method))
        .map((method) => ({ method: method.toUpperCase(), path })),
    );
});
afterAll(() => server?.close());

/** One checksum per table: any insert, update or delete changes it. */
async function checksums(): Promise<Record<string, string>> {
  const entries = await Promise.all(
    TABLES.map(async (table) => {
      const [row] = await server.sql<{ sum: string }>(
        `SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS sum FROM ${table} t`,
      );
      return [table, row?.sum ?? ''] as const;
    }),
  );
  return Object.fromEntries(entries);
}

const FORBIDDEN_KEYS = ['role', 'status', 'priceMinor', 'price', 'userId', 'available', 'sold', 'held', 'totalMinor'];
const BUILT_INS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];

const nasty = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.string({ unit: fc.constantFrom('\u0000', 'a', '\u202e', '😀', '\ud800', '%', "'", '"', '\\'), maxLength: 40 }),
  fc.constant('x'.repeat(70_000)),
  fc.integer(),
  fc.double(),
  fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 2 ** 53, Number.MAX_VALUE, -0, 1e-300),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('0000-01-01T00:00:00Z', '9999-12-31T23:59:60Z', '2027-02-30T10:00:00Z', 'yesterday'),
);

/** Deeply nested arrays and objects, the shape parsers and validators choke on. */
const deep = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    nasty,
    fc.array(tie('node'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...BUILT_INS)), tie('node'), { maxKeys: 3 }),
  ),
})).node;

/** A body close to a real one, with wrong types, forbidden fields and built-in names mixed in. */
const anyBody = fc.oneof(
  fc.jsonValue(),
  deep,
  fc.record(
    {
      eventId: fc.oneof(fc.constant('EVENT'), nasty),
      quantity: nasty,
      email: nasty,
      password: nasty,
      title: nasty,
      startsAt: nasty,
      capacity: nasty,
      bookingId: nasty,
      refreshToken: nasty,
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(fc.constantFrom(...FORBIDDEN_KEYS, ...BUILT_INS), nasty, { minKeys: 1, maxKeys: 4 }),
  fc.array(fc.anything(), { maxLength: 5 }),
  fc.string({ maxLength: 200 }), // not JSON at all
);

/**
 * Always malformed: an object body carries at least one field no input accepts (inputs are strict),
 * so even a request that is otherwise valid, with a valid token, must be refused.
 */
const body = fc.tuple(anyBody, fc.constantFrom(...FORBIDDEN_KEYS, 'unexpected'), nasty).map(([value, key, extra]) => {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return { ...value, [key]: extra };
  // an empty body is a request without one, which is valid where an operation takes no body
  return value === '' ? '{' : value;
});

const pathId = fc.oneof(
  fc.constant('EVENT'),
  fc.uuid(),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('..', '%2e%2e%2f', '0', '-1', '99999999999999999999', 'null', '%00', 'a'.repeat(2000)),
);

const query = fc.dictionary(
  fc.oneof(
    fc.constantFrom(...BUILT_INS, 'limit', 'cursor', 'startsAfter', 'nearLat', 'q', 'ticket_quantity'),
    fc.string({ maxLength: 10 }),
  ),
  fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('-1', '1e309', '2147483648', '0000-01-01', '%', '[]')),
  { maxKeys: 4 },
);

// Weighted so that most requests get past the transport's checks (a JSON content type, a valid
// token) and reach input validation and the services, where the malformed values bite.
const headers = fc.record(
  {
    'content-type': fc.oneof(
      { arbitrary: fc.constant('application/json'), weight: 6 },
      {
        arbitrary: fc.constantFrom(
          'application/json; charset=utf-16',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/json, application/json',
          '',
        ),
        weight: 2,
      },
    ),
    authorization: fc.oneof(
      { arbitrary: fc.constantFrom('USER', 'ADMIN'), weight: 6 },
      {
        arbitrary: fc.constantFrom('Bearer', 'Basic YWRtaW46YWRtaW4=', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'),
        weight: 1,
      },
      { arbitrary: fc.string({ maxLength: 60 }).map((s) => `Bearer ${s}`), weight: 1 },
    ),
    'idempotency-key': fc.oneof(fc.string({ maxLength: 200 }), fc.constant('k'.repeat(129))),
    'x-forwarded-for': fc.constantFrom('127.0.0.1', '1.2.3.4, 5.6.7.8', 'garbage'),
  },
  { requiredKeys: ['content-type', 'authorization'] },
);

type Sent = { method: string; path: string; status: number; body: string };

async function send(method: string, path: string, payload: unknown, extra: Record<string, string>): Promise<Sent> {
  const head: Record<string, string> = { accept: 'application/json', ...extra };
  if (head.authorization === 'USER') head.authorization = `Bearer ${tokens.user}`;
  if (head.authorization === 'ADMIN') head.authorization = `Bearer ${tokens.admin}`;
  const withBody = method !== 'GET' && method !== 'HEAD';
  const attempt = () =>
    fetch(`${server.url}${path}`, {
      method,
      headers: head,
      body: withBody ? (typeof payload === 'string' ? payload : JSON.stringify(payload ?? null)) : undefined,
      redirect: 'manual',
    });
  // after answering 413 to an oversized body the server closes that connection unread; a request
  // the client had already queued on it got no answer at all, so it is sent again (once)
  const response = await attempt().catch((error: unknown) => {
    if ((error as { cause?: { code?: string } }).cause?.code === 'UND_ERR_SOCKET') return attempt();
    throw error;
  });
  return { method, path, status: response.status, body: await response.text() };
}

/** Why an answer breaks the promise, or null when it keeps it. */
function problemWith(sent: Sent): string | null {
  if (sent.status >= 500) return `${sent.status}`;
  if (/\bat [\w.<>]+ \(|node:internal|\.ts:\d+/.test(sent.body)) return 'stack trace in the body';
  if (sent.status >= 400) {
    try {
      const parsed = JSON.parse(sent.body) as LooseJson;
      // REST: error.code; tRPC: error.data.code (error.code is JSON-RPC's number); a batch: per item
      const error = Array.isArray(parsed) ? parsed[0]?.error : parsed?.error;
      const code = typeof error?.data?.code === 'string' ? error.data.code : error?.code;
      if (typeof code !== 'string') return 'error without a code';
    } catch {
      return 'error body is not JSON';
    }
  }
  return null;
}

describe(`generated bad input (seed ${SEED})`, () => {
  it(`${RUNS} requests over every REST operation: 4xx in the error shape, no 5xx, no row changed`, async () => {
    console.log(`bad-input property test: seed ${SEED}, ${RUNS} runs (replay with BAD_INPUT_SEED=${SEED})`);
    const before = await checksums();
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: operations.length - 1 }),
        pathId,
        query,
        body,
        headers,
        async (index, id, params, payload, extra) => {
          const op = operations[index]!;
          const filled = op.path.replace(/\{\w+\}/g, () => encodeURIComponent(id === 'EVENT' ? eventId : id));
          const search = new URLSearchParams(params).toString();
          const sent = await send(op.method, `/api${filled}${search ? `?${search}` : ''}`, payload, extra);
          statuses.set(sent.status, (statuses.get(sent.status) ?? 0) + 1);
          const problem = problemWith(sent);
          if (problem) problems.push(`${op.method} ${op.path} → ${problem}: ${sent.body.slice(0, 200)}`);
          return true; // every problem is collected and reported below, with the seed
        },
      ),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    console.log('statuses:', Object.fromEntries([...statuses].sort(([a], [b]) => a - b)));
    expect(problems).toEqual([]);
    expect(await checksums()).toEqual(before);
  }, 600_000);

  it('tRPC: generated inputs and batches past the cap answer 4xx with a code', async () => {
    const before = await checksums();
    const procedures = ['events.list', 'events.get', 'bookings.create', 'bookings.get', 'auth.login', 'auth.refresh'];
    const problems: string[] = [];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...procedures), body, headers, async (procedure, input, extra) => {
        const query = procedure.startsWith('events.') || procedure === 'bookings.get';
        const sent = query
          ? await send(
              'GET',
              `/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify(input ?? null))}`,
              null,
              extra,
            )
          : await send('POST', `/trpc/${procedure}`, input, extra);
        const problem = problemWith(sent);
        if (problem) problems.push(`${procedure} → ${problem}: ${sent.body.slice(0, 200)}`);
        return true;
      }),
      { seed: SEED, numRuns: Math.ceil(RUNS / 5), endOnFailure: true },
    );
    // a batch larger than the server allows is refused whole
    const batch = Array.from({ length: 25 }, () => 'events.list').join(',');
    const inputs = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [i, {}]));
    const tooMany = await send(
      'GET',
      `/trpc/${batch}?batch=1&input=${encodeURIComponent(JSON.stringify(inputs))}`,
      null,
      {},
    );
    expect(tooMany.status).toBeGreaterThanOrEqual(400);
    expect(tooMany.status).toBeLessThan(500);
    expect(problems).toEqual([]);
    expect(await checksums()).toEqual(before);
  }, 600_000);
});
