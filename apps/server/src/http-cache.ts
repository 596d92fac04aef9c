import { createHash } from 'node:crypto';
import type { Context as HonoContext, MiddlewareHandler } from 'hono';

/**
 * How long a shared cache may serve a public catalogue read without asking again. An on-sale's
 * event page is read far more often than that, and no buyer is ever answered from a count this old:
 * a hold is decided on the database's counts, under the event's lock, never on a page.
 */
export const PUBLIC_MAX_AGE_SECONDS = 1;

/** The public catalogue reads: the same answer for every anonymous caller. */
const PUBLIC_PROCEDURES = new Set(['events.list', 'events.get', 'events.availability']);
const PUBLIC_REST = /^\/api\/events(?:\/[^/]+(?:\/availability)?)?$/;

function isPublicRead(c: HonoContext): boolean {
  if ((c.req.method !== 'GET' && c.req.method !== 'HEAD') || c.req.header('authorization')) return false;
  const path = c.req.path;
  if (path.startsWith('/trpc/'))
    return path
      .slice('/trpc/'.length)
      .split(',')
      .every((p) => PUBLIC_PROCEDURES.has(p));
  return PUBLIC_REST.test(path);
}

/** RFC 9110 If-None-Match: a list of entity tags (compared weakly), or `*`. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

type Entry = { body: string; etag: string; contentType: string; storedAt: number };

export type CachePolicyOptions = {
  /** How long this server answers a public read from memory; 0 keeps nothing. */
  keepMs: number;
  /** The most answers kept; the oldest go first. */
  maxEntries?: number;
  now?: () => number;
};

/**
 * Cache-Control for /api and /trpc. Every answer is `no-store`, except the public catalogue reads
 * (anonymous GETs of events that succeed): those are `public, max-age=1` with an ETag from their
 * body, and a request whose If-None-Match names it gets 304 without the body.
 *
 * With `keepMs`, this server also keeps each such answer that long and serves it again without
 * running the query: during an on-sale thousands of buyers read the same event page every second,
 * and it costs one query per second instead of one each. Concurrent misses for one URL share the
 * one query. An answer served from memory says how old it is (Age), so a shared cache adds at most
 * its own second: a public read is at most `keepMs` + 1 s behind the database. Signed-in requests
 * are never cached (an admin sees drafts, and edits what they just read).
 */
export function createCachePolicy({
  keepMs,
  maxEntries = 2000,
  now = Date.now,
}: CachePolicyOptions): MiddlewareHandler {
  const kept = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<Entry | null>>();
  const cacheControl = `public, max-age=${PUBLIC_MAX_AGE_SECONDS}`;

  const answer = (c: HonoContext, entry: Entry, fromMemory: boolean) => {
    const headers: Record<string, string> = { ETag: entry.etag, 'Cache-Control': cacheControl };
    if (fromMemory) headers.Age = String(Math.floor((now() - entry.storedAt) / 1000));
    if (matches(c.req.header('if-none-match'), entry.etag)) return c.body(null, 304, headers);
    return c.body(entry.body, 200, { ...headers, 'Content-Type': entry.contentType });
  };

  const keep = (key: string, entry: Entry) => {
    kept.delete(key);
    kept.set(key, entry);
    for (const oldest of kept.keys()) {
      if (kept.size <= maxEntries) break;
      kept.delete(oldest);
    }
  };

  return async (c, next) => {
    if (!isPublicRead(c)) {
      await next();
      c.res.headers.set('Cache-Control', 'no-store');
      return;
    }
    const key = c.req.method === 'GET' && keepMs > 0 ? c.req.url : null;
    if (key) {
      const hit = kept.get(key);
      if (hit && now() - hit.storedAt < keepMs) return answer(c, hit, true);
      const shared = await inFlight.get(key);
      if (shared) return answer(c, shared, true);
    }
    let settle: (entry: Entry | null) => void = () => {};
    if (key) inFlight.set(key, new Promise((resolve) => (settle = resolve)));
    let entry: Entry | null = null;
    try {
      await next();
      if (c.res.status !== 200) {
        c.res.headers.set('Cache-Control', 'no-store');
        return;
      }
      const body = await c.res.text();
      entry = {
        body,
        etag: `"${createHash('sha1').update(body).digest('base64url')}"`,
        contentType: c.res.headers.get('content-type') ?? 'application/json',
        storedAt: now(),
      };
      if (key) keep(key, entry);
      // (c.body carries the built answer's headers over; set in two steps, as hono's merge of one
      // answer into another reads the new one's body back as a stream)
      const fresh = answer(c, entry, false);
      c.res = undefined;
      c.res = fresh;
    } finally {
      if (key) {
        inFlight.delete(key);
        settle(entry);
      }
    }
  };
}
