import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_MAX_AGE_SECONDS } from './http-cache.ts';
import { makeBuyers, seedEvent } from './test/fixtures.ts';
import { signInAdmin, startTestServer, type TestServer } from './test/harness.ts';

let cached: TestServer;
let live: TestServer;
beforeAll(async () => {
  [cached, live] = await Promise.all([
    startTestServer({ env: { PUBLIC_CACHE_SECONDS: '1' } }),
    startTestServer({ env: { PUBLIC_CACHE_SECONDS: '0' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([cached?.close(), live?.close()]);
});

const get = (server: TestServer, path: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { headers });
const trpcInput = (input: unknown) => `input=${encodeURIComponent(JSON.stringify(input))}`;
const publicly = `public, max-age=${PUBLIC_MAX_AGE_SECONDS}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function hold(server: TestServer, eventId: string, quantity: number) {
  const [buyer] = await makeBuyers(server, 1);
  const res = await server.http('POST', `/api/events/${eventId}/book`, { token: buyer!.token, body: { quantity } });
  expect(res.status).toBe(200);
}

describe('public catalogue reads', () => {
  it('are public for a second with an ETag from the body, and If-None-Match gets 304', async () => {
    const eventId = await seedEvent(live, { capacity: 10 });
    for (const path of [
      `/api/events/${eventId}`,
      `/api/events/${eventId}/availability`,
      `/trpc/events.get?${trpcInput({ eventId })}`,
      '/api/events?limit=5',
      `/trpc/events.list?${trpcInput({ limit: 5 })}`,
    ]) {
      const first = await get(live, path);
      expect(first.status, path).toBe(200);
      expect(first.headers.get('cache-control')).toBe(publicly);
      const etag = first.headers.get('etag') as string;
      expect(etag).toMatch(/^"[\w-]+"$/);
      const again = await get(live, path, { 'if-none-match': etag });
      expect(again.status, path).toBe(304);
      expect(await again.text()).toBe('');
      expect(again.headers.get('etag')).toBe(etag);
      expect(again.headers.get('cache-control')).toBe(publicly);
      expect((await get(live, path, { 'if-none-match': `"other", W/${etag}` })).status).toBe(304);
    }
  });

  it('without the server cache, a change shows at once with a new ETag', async () => {
    const eventId = await seedEvent(live, { capacity: 10 });
    const before = (await get(live, `/api/events/${eventId}`)).headers.get('etag') as string;
    await hold(live, eventId, 2);
    const after = await get(live, `/api/events/${eventId}`, { 'if-none-match': before });
    expect(after.status).toBe(200);
    expect((await after.json()).available).toBe(8);
    expect(after.headers.get('etag')).not.toBe(before);
  });

  it('with it, the same read within PUBLIC_CACHE_SECONDS is answered from memory, saying how old it is', async () => {
    const eventId = await seedEvent(cached, { capacity: 10 });
    const path = `/trpc/events.get?${trpcInput({ eventId })}`;
    const first = await get(cached, path);
    expect(first.headers.get('age')).toBeNull();
    const etag = first.headers.get('etag') as string;
    await hold(cached, eventId, 3);
    // the hold is decided on the database; the page may lag it by the cache's second
    const soon = await get(cached, path);
    expect(soon.headers.get('age')).toBe('0');
    expect(soon.headers.get('etag')).toBe(etag);
    expect((await soon.json()).result.data.available).toBe(10);
    expect((await get(cached, path, { 'if-none-match': etag })).status).toBe(304);
    await sleep(1100);
    const later = await get(cached, path);
    expect((await later.json()).result.data.available).toBe(7);
    expect(later.headers.get('etag')).not.toBe(etag);
  });

  it('many readers of one page at once: one answer for all of them', async () => {
    const eventId = await seedEvent(cached, { capacity: 10 });
    const answers = await Promise.all(Array.from({ length: 50 }, () => get(cached, `/api/events/${eventId}`)));
    expect(new Set(answers.map((res) => res.headers.get('etag'))).size).toBe(1);
    expect(answers.filter((res) => res.headers.get('age') === null)).toHaveLength(1);
  });

  it('anything else is never stored: signed-in reads, failures, writes, bookings', async () => {
    for (const server of [cached, live]) {
      const eventId = await seedEvent(server, { capacity: 10 });
      const admin = await signInAdmin(server);
      const [buyer] = await makeBuyers(server, 1);
      const asAdmin = () => get(server, `/api/events/${eventId}`, { authorization: `Bearer ${admin.accessToken}` });
      const answers = await Promise.all([
        asAdmin(),
        asAdmin(),
        get(server, '/api/events/00000000-0000-4000-8000-000000000000'),
        get(server, `/trpc/events.get,auth.me?batch=1&${trpcInput({ 0: { eventId }, 1: {} })}`),
        fetch(`${server.url}/api/events/${eventId}/book`, {
          method: 'POST',
          headers: { authorization: `Bearer ${buyer!.token}`, 'content-type': 'application/json' },
          body: '{}',
        }),
        get(server, '/api/bookings', { authorization: `Bearer ${buyer!.token}` }),
      ]);
      for (const res of answers) {
        expect(res.headers.get('cache-control'), res.url).toBe('no-store');
        expect(res.headers.get('etag'), res.url).toBeNull();
        expect(res.headers.get('age'), res.url).toBeNull();
      }
    }
  });
});
