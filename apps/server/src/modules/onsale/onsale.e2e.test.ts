import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../lib/clock.ts';
import { expectBalanced, makeBuyers, seedEvent } from '../../test/fixtures.ts';
import { signInAdmin, startTestServer, type TestServer } from '../../test/harness.ts';

// End to end over HTTP: the waiting room's REST status (ETag, no writes), its SSE stream, and two
// server instances on one room.
const clock = manualClock(new Date('2031-06-01T09:00:00Z'));
const MINUTE = 60_000;
const env = { ADMISSION_TTL_SECONDS: '60', ADMISSION_TICK_SECONDS: '2', QUEUE_STREAM_INTERVAL_MS: '100' };
let server: TestServer;
let second: TestServer;
let adminId: string;
/** Signed now: the tests move the clock past an access token's lifetime. */
const adminToken = () => server.deps.tokens.signAccess({ id: adminId, role: 'admin' });
beforeAll(async () => {
  server = await startTestServer({ clock, pollJobs: false, env });
  second = await startTestServer({ clock, pollJobs: false, env, shareDatabaseOf: server });
  adminId = (await signInAdmin(server)).id;
});
afterAll(async () => {
  await second?.close();
  await server?.close();
});

async function roomEvent(capacity: number, opensInMs: number) {
  const eventId = await seedEvent(server, { capacity, priceMinor: 0, maxPerOrder: 2 });
  const salesStartAt = new Date(clock.now().getTime() + opensInMs);
  const patched = await server.http('PATCH', `/api/events/${eventId}`, {
    token: await adminToken(),
    body: { salesStartAt: salesStartAt.toISOString() },
  });
  expect(patched.status).toBe(200);
  expect(patched.body.salesStartAt).toBe(salesStartAt.toISOString());
  const configured = await server.http('POST', `/api/admin/events/${eventId}/waiting-room`, {
    token: await adminToken(),
    body: { enabled: true, leadMinutes: 60 },
  });
  expect(configured.status).toBe(200);
  return { eventId, salesStartAt };
}

/** One checksum per table of the database (the job queue's included): any write changes one. */
async function databaseChecksum(): Promise<Record<string, string>> {
  const tables = await server.sql<{ name: string }>(
    `SELECT format('%I.%I', table_schema, table_name) AS name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema IN ('public', 'graphile_worker') ORDER BY 1`,
  );
  const sums: Record<string, string> = {};
  for (const { name } of tables) {
    const [row] = await server.sql<{ sum: string }>(
      `SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS sum FROM ${name} t`,
    );
    sums[name] = row?.sum ?? '';
  }
  return sums;
}

describe('the waiting room over HTTP', () => {
  it('booking before salesStartAt answers 403 SALES_NOT_OPEN with the opening time', async () => {
    const { eventId, salesStartAt } = await roomEvent(5, 10 * MINUTE);
    const [buyer] = await makeBuyers(server, 1);
    const res = await server.http('POST', `/api/events/${eventId}/book`, {
      token: buyer!.token,
      body: { quantity: 1 },
    });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'SALES_NOT_OPEN', details: { opensAt: salesStartAt.toISOString() } });
  });

  it('status polling writes nothing, and answers 304 to If-None-Match while nothing changed', async () => {
    const { eventId, salesStartAt } = await roomEvent(5, 10 * MINUTE);
    const buyers = await makeBuyers(server, 3);
    for (const buyer of buyers) {
      const joined = await server.http('POST', `/api/events/${eventId}/queue`, { token: buyer.token });
      expect(joined.status).toBe(200);
    }
    clock.set(salesStartAt);
    await server.worker.runDue();

    const before = await databaseChecksum();
    const first = await server.http('GET', `/api/events/${eventId}/queue`, { token: buyers[0]!.token });
    expect(first.status).toBe(200);
    expect(first.body.state).toBe('admitted');
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    let notModified = 0;
    for (let i = 0; i < 200; i++) {
      const buyer = buyers[i % buyers.length]!;
      const res = await server.http('GET', `/api/events/${eventId}/queue`, {
        token: buyer.token,
        headers: i % buyers.length === 0 ? { 'if-none-match': etag as string } : {},
      });
      if (res.status === 304) notModified += 1;
      else expect(res.status).toBe(200);
    }
    // the tRPC read too
    const viaTrpc = await server.http(
      'GET',
      `/trpc/queue.status?input=${encodeURIComponent(JSON.stringify({ eventId }))}`,
      { token: buyers[1]!.token },
    );
    expect(viaTrpc.status).toBe(200);
    expect(notModified).toBe(Math.ceil(200 / buyers.length));
    expect(await databaseChecksum()).toEqual(before);
  });

  it('the SSE stream pushes the status, and its change when the buyer is admitted', async () => {
    const { eventId, salesStartAt } = await roomEvent(1, 10 * MINUTE);
    const [a, b] = await makeBuyers(server, 2);
    for (const buyer of [a!, b!]) await server.http('POST', `/api/events/${eventId}/queue`, { token: buyer.token });
    const noToken = await fetch(`${server.url}/api/events/${eventId}/queue/stream`);
    expect(noToken.status).toBe(401);

    const controller = new AbortController();
    const res = await fetch(`${server.url}/api/events/${eventId}/queue/stream`, {
      headers: { authorization: `Bearer ${a!.token}` },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const events: { state: string; position: number | null }[] = [];
    let buffered = '';
    const nextStatus = async () => {
      for (;;) {
        const end = buffered.indexOf('\n\n');
        if (end >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = block.split('\n').find((line) => line.startsWith('data: '));
          if (data) {
            const status = JSON.parse(data.slice('data: '.length));
            events.push(status);
            return status;
          }
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        buffered += value;
      }
    };
    expect(await nextStatus()).toMatchObject({ state: 'waiting', drawn: false });
    clock.set(salesStartAt);
    await server.worker.runDue();
    // pushed because it changed: whichever of the two was drawn first is admitted, the other is next in line
    const after = await nextStatus();
    expect(after.state === 'admitted' ? after.admission : after).toMatchObject(
      after.state === 'admitted' ? { expiresAt: expect.any(String) } : { state: 'waiting', drawn: true, position: 1 },
    );
    controller.abort();
  });
});

describe('two server instances on one room', () => {
  it('make one admission sequence: nobody admitted twice, no oversell, every ticket sold to an admitted buyer', async () => {
    const capacity = 40;
    const { eventId, salesStartAt } = await roomEvent(capacity, 10 * MINUTE);
    const buyers = await makeBuyers(server, 120);
    const instances = [server, second];
    // tokens as each instance signs them
    const tokens = await Promise.all(
      instances.map((instance) =>
        Promise.all(buyers.map((buyer) => instance.deps.tokens.signAccess({ id: buyer.id, role: 'user' }))),
      ),
    );
    const call = (n: number, buyer: number, method: string, path: string, body?: unknown) =>
      instances[n % 2]!.http(method, path, { token: tokens[n % 2]![buyer] as string, body });
    // joins arrive at both instances at once
    await Promise.all(
      buyers.map((_, i) =>
        call(i, i, 'POST', `/api/events/${eventId}/queue`).then((res) => expect(res.status).toBe(200)),
      ),
    );
    clock.set(salesStartAt);
    const booked = new Set<string>();
    for (let round = 0; round < 60; round++) {
      // both instances' workers run whatever is due, at the same time
      await Promise.all(instances.map((instance) => instance.worker.runDue()));
      const statuses = await Promise.all(
        buyers.map((_, i) => call(i + round, i, 'GET', `/api/events/${eventId}/queue`)),
      );
      const admitted = buyers.flatMap((buyer, i) =>
        statuses[i]!.body.state === 'admitted' && !booked.has(buyer.id) ? [i] : [],
      );
      // most admitted buyers book at once, through either instance; every fifth lets the admission lapse
      await Promise.all(
        admitted.map(async (buyer, i) => {
          if (buyer % 5 === 4) return;
          const res = await call(i, buyer, 'POST', `/api/events/${eventId}/book`, { quantity: 1 });
          if (res.status === 200) booked.add(buyers[buyer]!.id);
          else expect(res.body.error.code).toBe('SOLD_OUT');
        }),
      );
      const [room] = await server.sql<{ finished_at: Date | null }>(
        'SELECT finished_at FROM waiting_rooms WHERE event_id = ?',
        [eventId],
      );
      if (room?.finished_at) break;
      clock.advance(15_000);
    }
    const counts = await expectBalanced(server, eventId);
    expect(counts.sold).toBe(capacity);
    const entries = await server.sql<{
      user_id: string;
      admission_no: number | null;
      ticket_no: number;
      status: string;
    }>('SELECT user_id, admission_no, ticket_no, status FROM queue_entries WHERE event_id = ? ORDER BY ticket_no', [
      eventId,
    ]);
    const admissions = entries.filter((entry) => entry.admission_no !== null);
    // one sequence: 1..k without a gap or a repeat, handed out in the drawn order
    expect(admissions.map((entry) => entry.admission_no)).toEqual(admissions.map((_, i) => i + 1));
    expect(new Set(admissions.map((entry) => entry.user_id)).size).toBe(admissions.length);
    expect(entries.filter((entry) => entry.status === 'waiting')).toEqual([]);
    // every sold ticket went to a buyer admitted before booking and within the admission
    const [unadmitted] = await server.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM bookings b
        WHERE b.event_id = ? AND b.status = 'CONFIRMED' AND NOT EXISTS (
          SELECT 1 FROM queue_entries q WHERE q.event_id = b.event_id AND q.user_id = b.user_id
             AND b.created_at >= q.admitted_at AND b.created_at < q.admission_expires_at)`,
      [eventId],
    );
    expect(unadmitted?.n).toBe(0);
    const state = await second.http('GET', `/api/admin/events/${eventId}/waiting-room?limit=5`, {
      token: await adminToken(),
    });
    expect(state.status).toBe(200);
    expect(state.body).toMatchObject({ finishReason: 'sold_out', counts: { booked: capacity, waiting: 0 } });
    expect(state.body.counts.expired).toBeGreaterThan(0);
  }, 120_000);
});
