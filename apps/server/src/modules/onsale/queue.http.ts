import { createHash } from 'node:crypto';
import { DomainError, IdSchema, type QueueStatus } from '@boxoffice/contracts';
import { Hono, type MiddlewareHandler } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { AppDeps } from '../../deps.ts';
import { errorBody, errorHeaders, toDomainError } from '../../errors.ts';
import { queueStatus, roomVersion } from './waiting-room.service.ts';

/**
 * The waiting room's HTTP extras beside its procedures: an ETag on the REST status read (polling
 * while nothing changed costs a 304), and a server-sent-event stream of the status.
 *
 * The stream takes the access token in the Authorization header, never in the URL (URLs end up in
 * logs). Browsers' EventSource cannot send headers, so clients read it with fetch and a streamed
 * body (the SDK's `streamQueueStatus` does).
 */

const etagOf = (body: string) => `"${createHash('sha1').update(body).digest('base64url')}"`;

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** `GET /api/events/{eventId}/queue`: an ETag from the body; a matching If-None-Match gets 304. */
export function queueStatusEtag(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.req.method !== 'GET' || c.res.status !== 200) return;
    const body = await c.res.clone().text();
    const etag = etagOf(body);
    if (matches(c.req.header('if-none-match'), etag)) {
      c.res = undefined;
      c.res = new Response(null, { status: 304, headers: { ETag: etag } });
      return;
    }
    c.res.headers.set('ETag', etag);
  };
}

/** Terminal states: nothing more will change for this buyer, so the stream ends. */
const FINAL = new Set<QueueStatus['state']>(['booked', 'expired', 'sold_out', 'closed']);
const HEARTBEAT_MS = 15_000;

/**
 * Each server asks the database for a room's version once per interval, however many buyers
 * stream it; a buyer's own status is read again only when the room changed (every admission, the
 * draw and the end change it) or their admission's expiry passed.
 */
function roomWatcher(deps: AppDeps) {
  const latest = new Map<string, { at: number; version: Promise<string | null> }>();
  return (eventId: string): Promise<string | null> => {
    const now = Date.now();
    const known = latest.get(eventId);
    if (known && now - known.at < deps.config.QUEUE_STREAM_INTERVAL_MS) return known.version;
    const version = roomVersion(deps.orm.em.fork(), eventId).catch(() => null);
    latest.set(eventId, { at: now, version });
    return version;
  };
}

/** `GET /api/events/{eventId}/queue/stream`: the buyer's status as server-sent events (`status`). */
export function queueStreamRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  const versionOf = roomWatcher(deps);
  app.get('/events/:eventId/queue/stream', async (c) => {
    const fail = (error: unknown) => {
      const domain = toDomainError(error);
      return c.json(
        errorBody(domain, c.res.headers.get('x-request-id') ?? undefined),
        domain.status as 400,
        errorHeaders(domain),
      );
    };
    const parsed = IdSchema.safeParse(c.req.param('eventId'));
    if (!parsed.success)
      return fail(
        new DomainError('VALIDATION_FAILED', 'Invalid input: eventId', {
          issues: [{ path: 'eventId', message: 'expected a UUID', code: 'invalid_format' }],
        }),
      );
    const eventId = parsed.data;
    const header = c.req.header('authorization');
    const token = header ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined;
    if (!header)
      return fail(new DomainError('UNAUTHENTICATED', 'Sign in first: send Authorization: Bearer <access token>'));
    if (!token) return fail(new DomainError('INVALID_TOKEN', 'Authorization header must be "Bearer <access token>"'));
    let first: QueueStatus;
    let user: Awaited<ReturnType<typeof deps.tokens.verifyAccess>>;
    try {
      user = await deps.tokens.verifyAccess(token);
      first = await queueStatus({ ...deps.waitingRoom, em: deps.orm.em.fork() }, user, eventId);
    } catch (error) {
      return fail(error);
    }
    c.header('Cache-Control', 'no-store');
    return streamSSE(c, async (stream) => {
      let status = first;
      let sentBody = '';
      let version = await versionOf(eventId);
      let lastWrite = 0;
      while (!stream.aborted) {
        const body = JSON.stringify(status);
        if (body !== sentBody) {
          await stream.writeSSE({ event: 'status', data: body, id: etagOf(body) });
          sentBody = body;
          lastWrite = Date.now();
        } else if (Date.now() - lastWrite >= HEARTBEAT_MS) {
          await stream.write(': keep-alive\n\n');
          lastWrite = Date.now();
        }
        if (FINAL.has(status.state)) break;
        await stream.sleep(deps.config.QUEUE_STREAM_INTERVAL_MS);
        const now = deps.clock.now().getTime();
        const current = await versionOf(eventId);
        const lapsed = status.admission !== null && Date.parse(status.admission.expiresAt) <= now;
        if (current === version && !lapsed) continue;
        version = current;
        try {
          status = await queueStatus({ ...deps.waitingRoom, em: deps.orm.em.fork() }, user, eventId);
        } catch {
          break;
        }
      }
    });
  });
  return app;
}

/** The stream's entry in the OpenAPI document (it is a plain route beside the REST adapter). */
export function queueStreamDocument(baseUrl: string): Record<string, unknown> {
  const error = (description: string) => ({
    description,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  });
  return {
    '/api/events/{eventId}/queue/stream': {
      // a stream, not a request/response operation: named with its own server, like the host routes
      servers: [{ url: baseUrl, description: 'The server itself (a stream beside the REST API)' }],
      get: {
        operationId: 'queue-stream',
        tags: ['on-sale'],
        summary: 'My place in the waiting room, pushed (server-sent events)',
        description:
          'The status of `GET /api/events/{eventId}/queue` as `text/event-stream`: an event `status` now and ' +
          'whenever it changes (a comment line keeps the connection alive); the stream ends once nothing more ' +
          'can change (booked, expired, sold_out, closed). Send the access token in the Authorization header: ' +
          'browsers’ EventSource cannot, so read the stream with fetch (or the SDK’s `streamQueueStatus`).',
        security: [{ Authorization: [] }],
        parameters: [
          {
            name: 'eventId',
            in: 'path',
            required: true,
            schema: { type: 'string', format: 'uuid' },
            example: '0b7d6c7e-3f0a-4c55-9d1e-6a2b4f8e9c10',
          },
        ],
        responses: {
          200: {
            description: 'OK: one `status` event per change, its data a QueueStatus as JSON',
            content: { 'text/event-stream': { schema: { type: 'string' }, example: 'event: status\ndata: {…}\n\n' } },
          },
          400: error('Bad Request: error.code VALIDATION_FAILED'),
          401: error('Unauthorized: error.code UNAUTHENTICATED, INVALID_TOKEN'),
          404: error('Not Found: error.code WAITING_ROOM_NOT_FOUND'),
          500: error('Internal Server Error: error.code INTERNAL'),
          503: error('Service Unavailable: error.code DATABASE_UNAVAILABLE'),
        },
      },
    },
  };
}
