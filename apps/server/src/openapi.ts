import { STATUS_CODES } from 'node:http';
import { BookingSchema, ErrorBodySchema, type ErrorCode, errorStatus } from '@boxoffice/contracts';
import { generateOpenApiDocument, type OpenAPIObject } from 'trpc-to-openapi';
import { z } from 'zod';
import { queueStreamDocument } from './modules/onsale/queue.http.ts';
import { ticketPdfDocument } from './modules/tickets/tickets.routes.ts';
import type { ProcedureMeta } from './trpc/init.ts';
import { appRouter } from './trpc/root.ts';

type Json = Record<string, unknown>;
type Operation = {
  operationId?: string;
  security?: unknown;
  parameters?: Json[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Json }> };
  responses?: Record<string, unknown>;
};

const ERROR = { $ref: '#/components/schemas/Error' };
const PAYMENT_OUTCOME = { $ref: '#/components/schemas/PaymentOutcome' };
/** A procedure anyone may call, where a token, if sent, is checked (and admins see more). */
const OPTIONAL_BEARER = [{}, { Authorization: [] }];

const DESCRIPTION = `Event ticket booking: admins publish events; people register, find events (also near a place), hold
tickets and pay with PayPal.

**Authentication.** \`POST /api/auth/login\` answers with an \`accessToken\` (short-lived) and a \`refreshToken\`;
send \`Authorization: Bearer <accessToken>\`. When it expires (401 \`INVALID_TOKEN\`), \`POST /api/auth/refresh\`
with the refresh token gives a new pair. In this page: **Authorize**, paste the access token.

**Errors** are \`{ "error": { "code", "message", "details", "requestId" } }\` with a machine-readable \`code\`
(each operation lists the codes each status can carry): \`VALIDATION_FAILED\` has the fields at fault in
\`details.issues[].path\`, \`SOLD_OUT\` the tickets left in \`details.available\`. 429 and 503 answers carry
\`Retry-After\`.

**Inputs are strict.** A body field or query parameter that an operation does not define is refused with 400
\`VALIDATION_FAILED\` (\`Unrecognized key\`), never silently ignored, so a misspelt field cannot go unnoticed. Bodies
are JSON (\`Content-Type: application/json\`; anything else is 415); a body that is not a JSON object is 400.

**Retries.** Booking takes an \`Idempotency-Key\` (header or \`idempotencyKey\` field): the same key with the same
request answers with the first booking, so a retry after a lost answer books once. Changing an event can be made
conditional on the \`version\` you read (409 \`EVENT_VERSION_CONFLICT\` when it changed since).

Amounts are integers in minor units (cents) of the event's currency. TypeScript apps can use the typed SDK,
\`@boxoffice/sdk\`, instead of this REST API.`;

const TAGS = [
  { name: 'auth', description: 'Accounts, sign-in and tokens.' },
  { name: 'events', description: 'The catalogue: search and read events; admins create, change and cancel them.' },
  { name: 'bookings', description: 'Holding tickets, paying for them, cancelling; admins see every booking.' },
  {
    name: 'tickets',
    description: 'The tickets of confirmed bookings: signed QR codes, attendee names, the PDF to print or show.',
  },
  {
    name: 'check-in',
    description: 'At the door: door staff (granted per event by an admin) and admins scan tickets, online or offline.',
  },
  {
    name: 'on-sale',
    description:
      'Popular sales: a waiting room before the opening (a random order for early joiners, admissions in turn) ' +
      'and a waitlist after a sell-out (returned tickets offered in order).',
  },
  {
    name: 'payments',
    description:
      "Where a buyer's browser goes: to PayPal to pay, and back from it. Browsers get a page; send `Accept: application/json` for JSON.",
  },
  { name: 'webhooks', description: 'What PayPal calls: payment events, verified by their signature.' },
  { name: 'operations', description: 'For load balancers and monitoring.' },
];

function jsonSchemaOf(schema: z.ZodType): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) as Json;
  return rest;
}

/** `SOLD_OUT` → "Sold out": the example message of an error code. */
function exampleMessage(code: ErrorCode): string {
  const words = code.toLowerCase().replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const RETRY_AFTER = {
  'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer', minimum: 1 } },
};

/** Error responses by status, each naming the codes it can carry, all in the one Error shape. */
function errorResponses(codes: Iterable<ErrorCode>): Record<string, Json> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = errorStatus[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, list]) => [
        String(status),
        {
          description: `${STATUS_CODES[status] ?? 'Error'}: error.code ${list.join(', ')}`,
          ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
          content: {
            'application/json': {
              schema: ERROR,
              examples: Object.fromEntries(
                list.map((code) => [
                  code,
                  {
                    value: {
                      error: { code, message: exampleMessage(code), requestId: 'b6f2a2f4-6d0e-4d5f-9c61-0e3a4b7c9d21' },
                    },
                  },
                ]),
              ),
            },
          },
        },
      ]),
  );
}

/** The codes an API operation can answer with: its own, plus those of its access tier, its input and the host. */
function operationCodes(meta: ProcedureMeta, hasBody: boolean): ErrorCode[] {
  const codes: ErrorCode[] = ['VALIDATION_FAILED', 'MALFORMED_REQUEST', ...(meta.errors ?? [])];
  if (hasBody) codes.push('PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE');
  if (meta.access === 'user' || meta.access === 'staff' || meta.access === 'admin') codes.push('UNAUTHENTICATED');
  if (meta.access !== 'public') codes.push('INVALID_TOKEN');
  if (meta.access === 'admin' || meta.access === 'staff') codes.push('FORBIDDEN');
  codes.push('INTERNAL', 'DATABASE_UNAVAILABLE');
  return codes;
}

/** zod's bounds for `int()` are the safe-integer range: true, but a form pre-filled from them shows -9007199254740991. */
function dropSafeIntegerBounds(node: unknown): void {
  if (Array.isArray(node)) for (const item of node) dropSafeIntegerBounds(item);
  else if (node && typeof node === 'object') {
    const record = node as Json;
    if (record.minimum === Number.MIN_SAFE_INTEGER) delete record.minimum;
    if (record.maximum === Number.MAX_SAFE_INTEGER) delete record.maximum;
    for (const value of Object.values(record)) dropSafeIntegerBounds(value);
  }
}

/** Adjusts one operation the generator made from a procedure. */
function completeOperation(operation: Operation, meta: ProcedureMeta): void {
  if (meta.access === 'public') operation.security = [];
  if (meta.access === 'viewer') operation.security = OPTIONAL_BEARER;
  const body = operation.requestBody;
  const bodySchema = body?.content?.['application/json']?.schema;
  // a body with no required field may be left out entirely (e.g. booking one ticket)
  if (body && !(Array.isArray(bodySchema?.required) && bodySchema.required.length > 0)) body.required = false;
  operation.responses = {
    200: operation.responses?.[200],
    ...errorResponses(operationCodes(meta, body !== undefined)),
  };
  if (operation.operationId === 'bookings-create')
    operation.parameters = [
      ...(operation.parameters ?? []),
      {
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description:
          'Makes retrying safe: the same key with the same request answers with the first booking; with a ' +
          'different request it is 422 IDEMPOTENCY_KEY_REUSED. The same as the `idempotencyKey` field.',
        schema: { type: 'string', minLength: 8, maxLength: 128, pattern: '^[\\w.:-]+$' },
        // the body's example key too: when both are sent, the body's is the one used
        example: '5f0c5c1e-7d4a-4b7e-9a61-3c2d8e9f1a20',
      },
      {
        name: 'ticket_quantity',
        in: 'query',
        required: false,
        description:
          'The quantity as the earlier service took it; the same as `quantity` in the body (both may be given if equal).',
        schema: { type: 'integer', minimum: 1, maximum: 1000 },
      },
    ];
}

function paymentPage(description: string): Json {
  return {
    description,
    content: {
      'application/json': { schema: PAYMENT_OUTCOME },
      'text/html': { schema: { type: 'string' }, example: '<!doctype html>…' },
    },
  };
}

/** An error of a page route: JSON when asked for with `Accept: application/json`, a page otherwise. */
function pageErrors(codes: ErrorCode[]): Record<string, Json> {
  const responses = errorResponses(codes);
  for (const response of Object.values(responses))
    (response.content as Json)['text/html'] = { schema: { type: 'string' }, example: '<!doctype html>…' };
  return responses;
}

const REF_PARAMETER = {
  name: 'ref',
  in: 'query',
  required: true,
  description: 'The signed booking reference in the link the server gave (booking `paymentUrl`).',
  schema: { type: 'string', maxLength: 512 },
};
const TOKEN_PARAMETER = {
  name: 'token',
  in: 'query',
  required: true,
  description: "PayPal's order id, added by PayPal when it sends the buyer back.",
  schema: { type: 'string', maxLength: 128 },
};

/** A signature header PayPal sends with every webhook. */
function transmissionHeader(name: string, description: string, example: string): Json {
  return { name, in: 'header', required: true, description, schema: { type: 'string' }, example };
}

const PAYPAL_EVENT_EXAMPLE = {
  id: 'WH-2WR32451HC0233532-67976317FL4543714',
  event_type: 'PAYMENT.CAPTURE.COMPLETED',
  resource_type: 'capture',
  summary: 'Payment completed for EUR 84.00',
  create_time: '2035-03-01T10:15:00.000Z',
  resource: { id: '42311647XV020574X', status: 'COMPLETED', amount: { currency_code: 'EUR', value: '84.00' } },
};

/**
 * The routes outside `/api` that the REST API's users meet: the pages a buyer's browser is sent to,
 * PayPal's webhook, and the probes. Each names its own server, since they are not under `/api`.
 */
function hostRoutes(baseUrl: string): Record<string, Json> {
  const servers = [{ url: baseUrl, description: 'The server itself (these routes are not under /api)' }];
  // no credentials: a link, a signed delivery, a probe
  const security: unknown[] = [];
  return {
    '/payments/paypal/start': {
      servers,
      get: {
        operationId: 'payments-start',
        security,
        tags: ['payments'],
        summary: 'Go to PayPal to pay for a hold',
        description:
          "A booking's `paymentUrl`. Creates the PayPal order on first use (a repeat reuses it) and redirects the " +
          'browser to PayPal, where the buyer approves the payment. A booking with nothing left to pay is answered ' +
          'with its state instead.',
        parameters: [REF_PARAMETER],
        responses: {
          303: {
            description: "See Other: to PayPal's approval page",
            headers: { Location: { description: "PayPal's approval page", schema: { type: 'string' } } },
          },
          409: paymentPage('Conflict: already paid, or no longer open (`state`: confirmed, cancelled, refunded)'),
          410: paymentPage('Gone: the hold expired (`state`: expired)'),
          ...pageErrors([
            'VALIDATION_FAILED',
            'BOOKING_NOT_FOUND',
            'RATE_LIMITED',
            'INTERNAL',
            'PAYMENT_PROVIDER_ERROR',
            'DATABASE_UNAVAILABLE',
          ]),
        },
      },
    },
    '/payments/paypal/return': {
      servers,
      get: {
        operationId: 'payments-return',
        security,
        tags: ['payments'],
        summary: 'Back from PayPal: capture and confirm',
        description:
          'PayPal sends the buyer here after approving. The server captures the payment itself and confirms the ' +
          'booking only when PayPal says it is complete and amount, currency and booking match; visiting again ' +
          'changes nothing.',
        parameters: [TOKEN_PARAMETER, REF_PARAMETER],
        responses: {
          200: paymentPage('Paid: the booking is confirmed (`state`: confirmed)'),
          202: paymentPage('Accepted: PayPal is still processing (`state`: pending or processing); reload later'),
          409: paymentPage('Conflict: not approved yet, declined, or the hold was released'),
          410: paymentPage('Gone: the hold expired and its tickets could not be held again'),
          422: paymentPage('Unprocessable: the payment does not match this booking, or PayPal does not know it'),
          ...pageErrors(['VALIDATION_FAILED', 'BOOKING_NOT_FOUND', 'RATE_LIMITED', 'INTERNAL', 'DATABASE_UNAVAILABLE']),
          502: {
            description: 'Bad Gateway: PayPal is not answering (`state`: unavailable); nothing was charged twice',
            content: {
              'application/json': { schema: { oneOf: [PAYMENT_OUTCOME, ERROR] } },
              'text/html': { schema: { type: 'string' }, example: '<!doctype html>…' },
            },
          },
        },
      },
    },
    '/payments/paypal/cancel': {
      servers,
      get: {
        operationId: 'payments-cancel',
        security,
        tags: ['payments'],
        summary: 'Back from PayPal without paying: release the hold',
        parameters: [TOKEN_PARAMETER, REF_PARAMETER],
        responses: {
          200: paymentPage('The hold is released (`state`: cancelled)'),
          409: paymentPage('Conflict: already paid or no longer open; nothing changed'),
          ...pageErrors(['VALIDATION_FAILED', 'BOOKING_NOT_FOUND', 'RATE_LIMITED', 'INTERNAL', 'DATABASE_UNAVAILABLE']),
        },
      },
    },
    '/webhooks/paypal': {
      servers,
      post: {
        operationId: 'webhooks-paypal',
        security,
        tags: ['webhooks'],
        summary: 'A PayPal webhook event',
        description:
          "PayPal's event JSON as PayPal sends it, with its PAYPAL-TRANSMISSION-* signature headers (checked against " +
          'the configured webhook before anything else reads the body). 200 once the event is stored (a repeat ' +
          'included); 400 for what is not from PayPal (PayPal does not retry); 5xx when trying again can help.',
        parameters: [
          transmissionHeader('PAYPAL-TRANSMISSION-ID', 'The delivery id.', '69cd13f0-d67a-11e5-baa3-778b53f4ae55'),
          transmissionHeader('PAYPAL-TRANSMISSION-TIME', 'When PayPal sent it.', '2035-03-01T10:15:03Z'),
          transmissionHeader('PAYPAL-TRANSMISSION-SIG', 'SHA256withRSA signature, base64.', 'c2lnbmF0dXJl'),
          transmissionHeader(
            'PAYPAL-CERT-URL',
            "Where PayPal's certificate is (trusted only under PayPal's own hosts).",
            'https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77',
          ),
          transmissionHeader('PAYPAL-AUTH-ALGO', 'The signature algorithm.', 'SHA256withRSA'),
        ],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['id', 'event_type'],
                properties: {
                  id: { type: 'string', maxLength: 100 },
                  event_type: { type: 'string', maxLength: 100, example: 'PAYMENT.CAPTURE.COMPLETED' },
                  resource_type: { type: 'string', maxLength: 100 },
                  resource: { type: 'object', properties: { id: { type: 'string' } }, additionalProperties: true },
                },
                additionalProperties: true,
              },
              example: PAYPAL_EVENT_EXAMPLE,
            },
          },
        },
        responses: {
          200: {
            description: 'Stored (or stored before: `duplicate`); processed by a job',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['received', 'duplicate'],
                  properties: { received: { const: true }, duplicate: { type: 'boolean' } },
                },
              },
            },
          },
          ...errorResponses([
            'WEBHOOK_SIGNATURE_INVALID',
            'MALFORMED_REQUEST',
            'VALIDATION_FAILED',
            'PAYLOAD_TOO_LARGE',
            'INTERNAL',
            'PAYMENT_PROVIDER_ERROR',
            'WEBHOOK_NOT_CONFIGURED',
            'DATABASE_UNAVAILABLE',
          ]),
        },
      },
    },
    '/healthz': {
      servers,
      get: {
        operationId: 'operations-health',
        security,
        tags: ['operations'],
        summary: 'The process is up',
        responses: {
          200: {
            description: 'Up',
            content: {
              'application/json': {
                schema: { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } },
              },
            },
          },
        },
      },
    },
    '/readyz': {
      servers,
      get: {
        operationId: 'operations-ready',
        security,
        tags: ['operations'],
        summary: 'The database is reachable',
        description: 'Answered within two seconds either way.',
        responses: {
          200: {
            description: 'Ready',
            content: {
              'application/json': {
                schema: { type: 'object', required: ['status'], properties: { status: { const: 'ready' } } },
              },
            },
          },
          ...errorResponses(['NOT_READY']),
        },
      },
    },
    '/metrics': {
      servers,
      get: {
        operationId: 'operations-metrics',
        tags: ['operations'],
        summary: 'Prometheus metrics',
        description:
          'For a caller on the same machine, or anyone sending METRICS_TOKEN as a bearer token when it is set.',
        security: [{}, { MetricsToken: [] }],
        responses: {
          200: {
            description: 'Prometheus text format',
            content: {
              'text/plain': {
                schema: { type: 'string' },
                example: '# TYPE boxoffice_holds_total counter\nboxoffice_holds_total{outcome="held"} 3\n',
              },
            },
          },
          ...errorResponses(['FORBIDDEN']),
        },
      },
    },
  };
}

const documents = new Map<string, OpenAPIObject>();

/**
 * OpenAPI 3.1, generated from the same procedures and zod contracts tRPC serves, then completed
 * where the generator cannot know: error bodies have our shape and list their codes by status,
 * procedures anyone may call carry no (or an optional) security requirement, the booking's header
 * and legacy parameter are named, and the routes outside `/api` are described by hand.
 */
export function openApiDocument(baseUrl: string): OpenAPIObject {
  const known = documents.get(baseUrl);
  if (known) return known;
  const doc = generateOpenApiDocument(appRouter, {
    title: 'Boxoffice API',
    version: '0.1.0',
    description: DESCRIPTION,
    baseUrl: `${baseUrl}/api`,
    securitySchemes: {
      Authorization: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: 'The `accessToken` from `POST /api/auth/login` or `POST /api/auth/refresh`.',
      },
    },
  });
  // added after generating: the generator would require it of every protected procedure too
  doc.components = { ...doc.components };
  doc.components.securitySchemes = {
    ...doc.components.securitySchemes,
    MetricsToken: { type: 'http', scheme: 'bearer', description: 'The METRICS_TOKEN the server is configured with.' },
  };
  doc.info.license = { name: 'MIT', identifier: 'MIT' };
  doc.tags = TAGS;
  if (doc.servers?.[0]) doc.servers[0].description = 'The REST API';
  const schemas = (doc.components?.schemas ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(schemas)) if (name.startsWith('error.')) delete schemas[name];
  schemas.Error = jsonSchemaOf(ErrorBodySchema);
  schemas.PaymentOutcome = {
    type: 'object',
    required: ['state', 'booking'],
    properties: {
      state: {
        type: 'string',
        description:
          'What happened: confirmed, pending, processing, not_approved, cancelled, expired, failed_*, unavailable, …',
        example: 'confirmed',
      },
      booking: jsonSchemaOf(BookingSchema),
    },
  };

  const metas = new Map(
    Object.entries(appRouter._def.procedures).map(([path, procedure]) => [
      path.replaceAll('.', '-'),
      (procedure as unknown as { _def: { meta?: ProcedureMeta } })._def.meta ?? {},
    ]),
  );
  for (const item of Object.values(doc.paths ?? {}))
    for (const operation of Object.values(item as Record<string, Operation>))
      completeOperation(operation, (operation.operationId && metas.get(operation.operationId)) || {});
  doc.paths = {
    ...doc.paths,
    ...hostRoutes(baseUrl),
    ...(queueStreamDocument(baseUrl) as typeof doc.paths),
    ...(ticketPdfDocument() as typeof doc.paths),
  };
  dropSafeIntegerBounds(doc);
  documents.set(baseUrl, doc);
  return doc;
}
