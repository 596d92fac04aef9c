import { randomUUID, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { DomainError } from '@boxoffice/contracts';
import { trpcServer } from '@hono/trpc-server';
import { Hono, type Context as HonoContext } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { secureHeaders } from 'hono/secure-headers';
import type { AppDeps } from './deps.ts';
import { docsInitScript, docsPage } from './docs.ts';
import { errorBody, errorHeaders, toDomainError } from './errors.ts';
import { createCachePolicy } from './http-cache.ts';
import { clientIp } from './lib/client-ip.ts';
import { checkinPageRoutes } from './modules/checkin/checkin.page.ts';
import { queueStatusEtag, queueStreamRoutes } from './modules/onsale/queue.http.ts';
import { ticketPdfRoutes } from './modules/tickets/tickets.routes.ts';
import { openApiDocument } from './openapi.ts';
import { paypalRedirectRoutes } from './payments/paypal/paypal-redirects.router.ts';
import { SIMULATOR_MOUNT_PATH } from './payments/paypal/paypal-settings.ts';
import { paypalWebhookRoutes } from './payments/webhooks/webhooks.router.ts';
import { createRestHandler } from './rest.ts';
import { createContextInner, type RequestFacts } from './trpc/context.ts';
import { appRouter } from './trpc/root.ts';

type Env = { Variables: { requestId: string } };

const MAX_BATCH_SIZE = 10;
const READY_TIMEOUT_MS = 2000;
const swaggerUiDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

function requestFacts(c: HonoContext<Env>, deps: AppDeps): RequestFacts {
  return {
    requestId: c.get('requestId'),
    ip: clientIp(c, deps.config.TRUST_PROXY),
    authorization: c.req.header('authorization') ?? null,
    idempotencyKey: c.req.header('idempotency-key') ?? null,
  };
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function withJsonContentType(source: Headers): Headers {
  const headers = new Headers(source);
  headers.set('content-type', 'application/json');
  return headers;
}

function sendError(c: HonoContext<Env>, error: DomainError) {
  for (const [name, value] of Object.entries(errorHeaders(error))) c.header(name, value);
  return c.json(errorBody(error, c.get('requestId')), error.status as 400);
}

/** Builds the HTTP app; listening is server.ts's job, so tests can also drive it with app.request(). */
export function buildApp(deps: AppDeps): Hono<Env> {
  const { config, log } = deps;
  const app = new Hono<Env>();

  app.use('*', async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && /^[\w-]{8,64}$/.test(incoming) ? incoming : randomUUID();
    c.set('requestId', requestId);
    c.header('X-Request-Id', requestId);
    const started = performance.now();
    await next();
    // on the answer itself too: one a route built (tRPC, REST) does not carry the headers set above
    c.res.headers.set('X-Request-Id', requestId);
    deps.metrics.observeRequest(c.req.method, c.req.routePath, c.res.status, (performance.now() - started) / 1000);
    // path only: query strings may carry PayPal tokens and are not worth the risk
    log.info(
      {
        requestId,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      },
      'request',
    );
  });
  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
      crossOriginEmbedderPolicy: false,
    }),
  );
  const crossOrigin = cors({
    origin: (origin) => (config.CORS_ORIGINS.includes(origin) ? origin : null),
    allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id', 'trpc-accept'],
    allowMethods: ['GET', 'POST', 'PATCH', 'OPTIONS'],
    exposeHeaders: ['X-Request-Id', 'Retry-After'],
    maxAge: 600,
  });
  app.use('*', async (c, next) => {
    // a browser on another origin says which: CORS is for it
    if (c.req.header('origin') !== undefined) return crossOrigin(c, next);
    await next();
    // nothing to allow without an Origin, but no cache may hand this answer to a request with one
    // (said on the answer itself: hono's cors does it through c.header, which rebuilds every finished
    // response around a body stream, a tenth of a cached read's CPU)
    c.res.headers.append('Vary', 'Origin');
  });
  const tooLarge = (c: HonoContext<Env>) =>
    sendError(c, new DomainError('PAYLOAD_TOO_LARGE', `Body larger than ${config.BODY_LIMIT_BYTES} bytes`));
  const limitStreamedBody = bodyLimit({ maxSize: config.BODY_LIMIT_BYTES, onError: tooLarge });
  // a declared length is checked from the header, and a GET has no body: only a streamed body is
  // counted as it arrives (hono's bodyLimit asks for the body stream first, which on node turns
  // every request, reads included, into a full web Request: a tenth of a hold's CPU)
  app.use('*', async (c, next) => {
    const length = c.req.header('content-length');
    if (length !== undefined && !c.req.header('transfer-encoding'))
      return Number.parseInt(length, 10) > config.BODY_LIMIT_BYTES ? tooLarge(c) : next();
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return next();
    return limitStreamedBody(c, next);
  });
  // never stored, except the public catalogue reads: briefly cached, with an ETag (http-cache.ts)
  const cachePolicy = createCachePolicy({ keepMs: config.PUBLIC_CACHE_SECONDS * 1000 });
  app.use('/api/*', cachePolicy);
  app.use('/trpc/*', cachePolicy);

  // PayPal's webhooks: verified on the raw body, so mounted before any route that reads a body
  app.route('/webhooks/paypal', paypalWebhookRoutes(deps, deps.paypalWebhooks));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  // browsers ask for it on every page we serve; answering "nothing" keeps their consoles clean
  app.get('/favicon.ico', (c) => c.body(null, 204));
  // a probe gets its answer in bounded time: a pool with no free connection is "not ready" too
  app.get('/readyz', async (c) => {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('readiness check timed out')), READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([deps.orm.em.fork().execute('SELECT 1'), gaveUp]);
      return c.json({ status: 'ready' });
    } catch {
      return sendError(c, new DomainError('NOT_READY', 'Database unreachable'));
    } finally {
      clearTimeout(timer);
    }
  });

  app.use(
    '/trpc/*',
    trpcServer({
      endpoint: '/trpc',
      router: appRouter,
      maxBatchSize: MAX_BATCH_SIZE,
      createContext: (_opts, c) => createContextInner(deps, requestFacts(c as HonoContext<Env>, deps)),
      responseMeta: ({ errors }) => {
        const first = errors[0];
        return first ? { headers: errorHeaders(toDomainError(first)) } : {};
      },
      onError: ({ error, path: procedure, ctx }) => {
        const domain = toDomainError(error);
        if (domain.code === 'INTERNAL')
          log.error(
            { err: error, procedure, requestId: (ctx as { requestId?: string })?.requestId },
            'procedure failed',
          );
      },
    }),
  );

  // The earlier service's booking URL carries the quantity in the query string, which the OpenAPI
  // adapter ignores on POST; fold it into the body and hand the request on.
  app.post('/api/events/:eventId/book', async (c, next) => {
    const fromQuery = c.req.query('ticket_quantity');
    if (fromQuery === undefined) return next();
    const text = await c.req.text();
    let parsed: unknown = {};
    try {
      parsed = text.trim() ? JSON.parse(text) : {};
    } catch {
      return sendError(c, new DomainError('MALFORMED_REQUEST', 'Malformed request body'));
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      return sendError(
        c,
        new DomainError('VALIDATION_FAILED', 'Invalid input: the body must be a JSON object', {
          issues: [{ path: '(root)', message: 'expected an object', code: 'invalid_type' }],
        }),
      );
    const body = parsed as Record<string, unknown>;
    if (!/^\d{1,6}$/.test(fromQuery) || (body.quantity !== undefined && body.quantity !== Number(fromQuery)))
      return sendError(
        c,
        new DomainError('VALIDATION_FAILED', 'Invalid input: ticket_quantity', {
          issues: [
            {
              path: 'ticket_quantity',
              message: /^\d{1,6}$/.test(fromQuery) ? 'disagrees with quantity in the body' : 'expected a whole number',
              code: 'invalid_type',
            },
          ],
        }),
      );
    const forwarded = new Request(c.req.url, {
      method: 'POST',
      headers: withJsonContentType(c.req.raw.headers),
      body: JSON.stringify({ ...body, quantity: Number(fromQuery) }),
    });
    return restHandler(c, forwarded);
  });

  // a booking's tickets as a PDF: binary, so a plain route beside the OpenAPI adapter (documented in openapi.ts)
  app.route('/api/bookings', ticketPdfRoutes(deps));

  // the waiting room's status: an ETag for polling; its SSE stream is a plain route (documented in openapi.ts)
  app.use('/api/events/:eventId/queue', queueStatusEtag());
  app.route('/api', queueStreamRoutes(deps));

  // REST: the same procedures through the OpenAPI adapter; its error bodies are reshaped to ours.
  const rest = createRestHandler('/api', log);
  // which methods a REST path answers to, from the OpenAPI document, to tell 405 from 404
  // (the document's routes outside /api name their own server and are left out)
  const restRoutes = Object.entries(openApiDocument(config.publicUrl).paths ?? {})
    .filter(([, item]) => !item?.servers)
    .map(([template, item]) => ({
      pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
      methods: Object.keys(item ?? {}).map((method) => method.toUpperCase()),
    }));
  const restMethodsFor = (path: string) =>
    restRoutes.filter((route) => route.pattern.test(path)).flatMap((route) => route.methods);
  const restHandler = async (c: HonoContext<Env>, req: Request) => {
    const facts = requestFacts(c, deps);
    const { response, failure } = await rest(req, {
      requestId: facts.requestId,
      ctx: () => createContextInner(deps, facts),
    });
    if (failure?.code === 'NOT_FOUND' && !failure.details) {
      const allowed = restMethodsFor(c.req.path.slice('/api'.length));
      if (allowed.length) {
        c.header('Allow', allowed.join(', '));
        return sendError(
          c,
          new DomainError('METHOD_NOT_ALLOWED', `${c.req.method} is not allowed here; use ${allowed.join(' or ')}`),
        );
      }
      return sendError(c, new DomainError('NOT_FOUND', `No route for ${c.req.method} ${c.req.path}`));
    }
    if (!failure) return response;
    return sendError(c, failure);
  };
  app.all('/api/*', (c) => restHandler(c, c.req.raw));

  app.route('/payments/paypal', paypalRedirectRoutes(deps, deps.checkout));
  if (deps.paypalSimulator) app.route(SIMULATOR_MOUNT_PATH, deps.paypalSimulator.app);

  // operational data: with METRICS_TOKEN set it needs that bearer token, otherwise a loopback caller;
  // behind a proxy that is the forwarded client, since the proxy itself may well be on loopback
  app.get('/metrics', async (c) => {
    const token = config.METRICS_TOKEN;
    const allowed = token
      ? safeEqual(c.req.header('authorization') ?? '', `Bearer ${token}`)
      : LOOPBACK.has(clientIp(c, config.TRUST_PROXY));
    if (!allowed) return sendError(c, new DomainError('FORBIDDEN', 'Metrics need METRICS_TOKEN or a local caller'));
    return c.body(await deps.metrics.render(), 200, { 'Content-Type': deps.metrics.contentType });
  });
  app.get('/openapi.json', (c) => c.json(openApiDocument(config.publicUrl)));
  app.route('/checkin', checkinPageRoutes());
  app.get('/docs', (c) => c.html(docsPage()));
  app.get('/docs/init.js', (c) => c.body(docsInitScript(), 200, { 'Content-Type': 'text/javascript; charset=utf-8' }));
  app.get('/docs/assets/:file{swagger-ui\\.css|swagger-ui-bundle\\.js}', async (c) => {
    const file = c.req.param('file');
    const body = await readFile(path.join(swaggerUiDir, file));
    const type = file.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
    return c.body(body, 200, { 'Content-Type': type, 'Cache-Control': 'public, max-age=86400' });
  });

  app.notFound((c) => sendError(c, new DomainError('NOT_FOUND', `No route for ${c.req.method} ${c.req.path}`)));
  app.onError((error, c) => {
    const domain = toDomainError(error);
    if (domain.code === 'INTERNAL') log.error({ err: error, requestId: c.get('requestId') }, 'unhandled error');
    return sendError(c, domain);
  });
  return app;
}
