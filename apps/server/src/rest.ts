import { DomainError } from '@boxoffice/contracts';
import { TRPCError } from '@trpc/server';
import { createOpenApiNodeHttpHandler } from 'trpc-to-openapi';
import { errorHeaders, toDomainError } from './errors.ts';
import type { Logger } from './logger.ts';
import type { Context } from './trpc/context.ts';
import { appRouter } from './trpc/root.ts';

type RestCall = { ctx: () => Context; requestId: string; failure?: DomainError };

/**
 * The query string as the adapter wants it (`req.query`: each key to its values). Built on a
 * null prototype: the adapter's own parser indexes a plain `{}` with the key, so `?constructor=1`
 * found Object's constructor there and failed with a 500.
 */
function queryOf(url: string): Record<string, string[]> {
  const query: Record<string, string[]> = Object.create(null);
  for (const [key, value] of new URL(url).searchParams) {
    // would set the prototype of the adapter's result object rather than a field of it
    if (key === '__proto__') continue;
    query[key] = [...(query[key] ?? []), value];
  }
  return query;
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function notAnObject(value: unknown): DomainError {
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
  return new DomainError('VALIDATION_FAILED', 'Invalid input: the body must be a JSON object', {
    issues: [{ path: '(root)', message: `expected a JSON object, got ${got}`, code: 'invalid_type' }],
  });
}

/**
 * The REST side of the API: trpc-to-openapi's handler over the same router, bridged to fetch
 * Requests. The library's own fetch adapter rebuilds (and, outside production, re-validates the
 * whole OpenAPI document) on every request; this builds the handler once.
 */
export function createRestHandler(endpoint: `/${string}`, log: Logger) {
  const calls = new WeakMap<object, RestCall>();
  const handler = createOpenApiNodeHttpHandler({
    router: appRouter,
    createContext: ({ req }: { req: object }) => (calls.get(req) as RestCall).ctx(),
    responseMeta: ({ errors }: { errors: unknown[] }) => {
      const first = errors[0];
      if (!first) return {};
      const failure = toDomainError(first);
      return { status: failure.status, headers: errorHeaders(failure) };
    },
    onError: ({ error, path, req }: { error: unknown; path?: string; req: object }) => {
      const call = calls.get(req);
      const failure = toDomainError(error);
      if (call) call.failure = failure;
      if (failure.code === 'INTERNAL')
        log.error({ err: error, procedure: path, requestId: call?.requestId }, 'procedure failed');
      if (failure.code === 'DATABASE_UNAVAILABLE')
        log.warn({ err: error, procedure: path, requestId: call?.requestId }, 'database unavailable');
    },
  } as never) as (req: unknown, res: unknown) => Promise<void>;

  /** Runs one request; `failure` is set when it ended in an error (the caller shapes the body). */
  return async (incoming: Request, call: RestCall): Promise<{ response: Response; failure?: DomainError }> => {
    // a POST without a content type (e.g. `curl -X POST .../cancel`) is read as JSON, not refused with 415
    let request = incoming;
    if (['POST', 'PATCH'].includes(incoming.method) && !incoming.headers.get('content-type')) {
      const headers = new Headers(incoming.headers);
      headers.set('content-type', 'application/json');
      request = new Request(incoming.url, { method: incoming.method, headers, body: await incoming.text() });
    }
    const url = request.url.replace(endpoint, '');
    // the adapter takes GET and DELETE input from the query string and reads no body for them
    const bodyless = request.method === 'GET' || request.method === 'HEAD' || request.method === 'DELETE';
    let body: { ok: true; data: unknown } | { ok: false; cause: unknown } = { ok: true, data: undefined };
    try {
      if (bodyless) {
        // (asking a node request for its body stream would turn it into a full web Request)
      } else if (request.headers.get('content-type')?.includes('application/json')) {
        const text = await request.text();
        // an empty body is `{}`, with or without a JSON content type
        body = { ok: true, data: text.trim() ? JSON.parse(text) : {} };
      } else {
        body = { ok: true, data: request.body };
      }
    } catch (cause) {
      body = { ok: false, cause };
    }
    let query: Record<string, string[]> | undefined;
    const req = new Proxy(request, {
      get: (target, prop) => {
        if (prop === 'url') return url;
        if (prop === 'query') {
          query ??= queryOf(request.url);
          return query;
        }
        if (prop === 'body') {
          if (!body.ok)
            throw new TRPCError({ code: 'PARSE_ERROR', message: 'Malformed request body', cause: body.cause });
          // the adapter spreads the body into the input, so `[1,2]` or `false` would pass as `{}`
          if (!isJsonObject(body.data)) throw new TRPCError({ code: 'BAD_REQUEST', cause: notAnObject(body.data) });
          return body.data;
        }
        return target[prop as keyof Request];
      },
    });
    calls.set(req, call);
    const response = await new Promise<Response>((resolve) => {
      // a plain record until something asks for Headers: the server's own Response takes it as it is
      const headers: Record<string, string> = {};
      let status = 200;
      const res = {
        setHeader: (name: string, value: string | string[]) => {
          const key = name.toLowerCase();
          for (const v of Array.isArray(value) ? value : [value])
            headers[key] = headers[key] ? `${headers[key]}, ${v}` : v;
        },
        get statusCode() {
          return status;
        },
        set statusCode(code: number) {
          status = code;
        },
        end: (payload?: string) => resolve(new Response(payload ?? null, { status, headers })),
      };
      void handler(req, res);
    });
    return { response, ...(call.failure ? { failure: call.failure } : {}) };
  };
}
