import { startTestServer, type TestServer } from '@boxoffice/server/testing';
import { makeBuyers, seedEvent } from '@boxoffice/server/testing/fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoxofficeError, createBoxofficeClient, type QueueStatus, streamQueueStatus } from './index.ts';

// The SDK against a live server: the waiting room and the waitlist through the typed client, and
// the status stream (server-sent events, token in the header) through `streamQueueStatus`.
let current = Date.parse('2031-08-01T09:00:00Z');
/** The server's clock, moved by the test. */
const clock = {
  now: () => new Date(current),
  set: (date: Date) => {
    current = date.getTime();
  },
};
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ clock, pollJobs: false, env: { QUEUE_STREAM_INTERVAL_MS: '100' } });
});
afterAll(() => server?.close());

describe('the SDK on an on-sale', () => {
  it('joins a waiting room, follows its status stream to the admission, and reads a waitlist place', async () => {
    const eventId = await seedEvent(server, { capacity: 1, priceMinor: 0 });
    const opensAt = new Date(clock.now().getTime() + 60_000);
    await server.sql('UPDATE events SET sales_start_at = ? WHERE id = ?', [opensAt, eventId]);
    await server.sql(
      'INSERT INTO waiting_rooms (event_id, lead_minutes, created_at, updated_at) VALUES (?, 10, ?, ?)',
      [eventId, clock.now(), clock.now()],
    );
    const [buyer] = await makeBuyers(server, 1);
    const client = createBoxofficeClient({ baseUrl: server.url, headers: { authorization: `Bearer ${buyer!.token}` } });
    expect(await client.queue.join.mutate({ eventId })).toMatchObject({ state: 'waiting', drawn: false });

    const seen: QueueStatus[] = [];
    const controller = new AbortController();
    const streamed = streamQueueStatus({
      baseUrl: server.url,
      eventId,
      accessToken: buyer!.token,
      signal: controller.signal,
      onStatus: (status) => {
        seen.push(status);
        if (status.state === 'admitted') controller.abort();
      },
    });
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(1);
    clock.set(opensAt);
    await server.sql("SELECT graphile_worker.add_job('admit-buyers', json_build_object('eventId', ?::text))", [
      eventId,
    ]);
    await server.worker.runDue();
    const last = await streamed;
    expect(last).toMatchObject({ state: 'admitted', admission: { expiresAt: expect.any(String) } });
    expect(seen.map((status) => status.state)).toEqual(['waiting', 'admitted']);

    // the event sells out: the waitlist is read and left through the client
    expect((await client.bookings.create.mutate({ eventId })).status).toBe('CONFIRMED');
    const [other] = await makeBuyers(server, 1);
    const second = createBoxofficeClient({ baseUrl: server.url, headers: { authorization: `Bearer ${other!.token}` } });
    await server.sql('DELETE FROM waiting_rooms WHERE event_id = ?', [eventId]);
    expect(await second.waitlist.join.mutate({ eventId, quantity: 1 })).toMatchObject({
      status: 'waiting',
      position: 1,
    });
    expect((await second.waitlist.mine.query({ eventId })).position).toBe(1);
    expect((await second.waitlist.leave.mutate({ eventId })).status).toBe('left');
  });

  it('a stream refused by the server rejects with its error code', async () => {
    const eventId = await seedEvent(server, { capacity: 1 });
    const [buyer] = await makeBuyers(server, 1);
    const refused = streamQueueStatus({ baseUrl: server.url, eventId, accessToken: buyer!.token, onStatus: () => {} });
    await expect(refused).rejects.toBeInstanceOf(BoxofficeError);
    await expect(refused).rejects.toMatchObject({ code: 'WAITING_ROOM_NOT_FOUND', status: 404 });
  });
});
