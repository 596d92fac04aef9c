import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../lib/clock.ts';
import { expectBalanced, makeBuyers, pressPayPalButton, seedEvent, startPayment } from '../../test/fixtures.ts';
import { signInAdmin, startTestServer, type TestServer } from '../../test/harness.ts';
import { paidHold } from '../../test/money.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../mail/smtp-test-server.ts';

// End to end over HTTP: a sold-out event's waitlist gets the tickets that come back by a lapse, a
// cancel and a refund, in order; an unpaid offer passes on; the offers arrive at a real SMTP server.
const clock = manualClock(new Date('2031-07-01T09:00:00Z'));
const MINUTE = 60_000;
let server: TestServer;
let smtp: TestSmtpServer;
let adminId: string;
beforeAll(async () => {
  smtp = await startTestSmtpServer();
  server = await startTestServer({
    clock,
    pollJobs: false,
    env: {
      SMTP_URL: smtp.url,
      HOLD_TTL_MINUTES: '15',
      WAITLIST_OFFER_MINUTES: '10',
      ACCESS_TOKEN_EXPIRE_MINUTES: '1440',
    },
  });
  adminId = (await signInAdmin(server)).id;
});
afterAll(async () => {
  await server?.close();
  await smtp?.close();
});

const visit = (url: string) => server.http('GET', url.replace(server.url, ''));
const runJobs = async () => {
  // a refund's job returns tickets, whose offer job then runs, whose mail job then runs
  for (let i = 0; i < 3; i++) await server.worker.runDue();
};

describe('the waitlist of a sold-out event', () => {
  it('offers returned tickets in order (lapse, cancel, refund); an unpaid offer passes on; mails arrive', async () => {
    const eventId = await seedEvent(server, { capacity: 3, priceMinor: 2500, maxPerOrder: 2 });
    const [lapsing, cancelling, refunded, outsider] = await makeBuyers(server, 4);
    const lapse = await server.http('POST', `/api/events/${eventId}/book`, {
      token: lapsing!.token,
      body: { quantity: 1 },
    });
    clock.advance(5 * MINUTE);
    const cancel = await server.http('POST', `/api/events/${eventId}/book`, {
      token: cancelling!.token,
      body: { quantity: 1 },
    });
    expect([lapse.status, cancel.status]).toEqual([200, 200]);
    const paid = await paidHold(server, { eventId, quantity: 1, buyer: refunded });
    expect((await visit(await pressPayPalButton(server, paid.orderId, 'approve'))).body.state).toBe('confirmed');

    // sold out: five buyers join the list; the first wants two tickets
    const list = await makeBuyers(server, 5);
    const early = await server.http('POST', `/api/events/${eventId}/waitlist`, { token: outsider!.token, body: {} });
    expect(early.status).toBe(200);
    await server.http('POST', `/api/events/${eventId}/waitlist/leave`, { token: outsider!.token });
    const quantities = [2, 1, 1, 1, 1];
    for (const [i, buyer] of list.entries()) {
      const joined = await server.http('POST', `/api/events/${eventId}/waitlist`, {
        token: buyer.token,
        body: { quantity: quantities[i] },
      });
      expect(joined.status).toBe(200);
      expect(joined.body).toMatchObject({ status: 'waiting', position: i + 1, quantity: quantities[i] });
      clock.advance(1000);
    }
    const again = await server.http('POST', `/api/events/${eventId}/waitlist`, { token: list[1]!.token, body: {} });
    expect(again.body).toMatchObject({ position: 2, quantity: 1 });
    const mine = (buyer: { token: string }) =>
      server.http('GET', `/api/events/${eventId}/waitlist`, { token: buyer.token });
    const sentTo = (prefix: string) => (to: unknown) => JSON.stringify(to).includes(prefix);
    const offerTo = (n: number) => smtp.mails.filter((mail) => mail.subject?.includes('waiting for you'))[n];

    // 1. a hold lapses: one ticket back; the first in line wants two, so the second gets it
    clock.advance(11 * MINUTE);
    await runJobs();
    expect((await mine(list[1]!)).body).toMatchObject({ status: 'offered', offer: { paymentUrl: expect.any(String) } });
    expect((await mine(list[0]!)).body).toMatchObject({ status: 'waiting', position: 1 });
    expect(offerTo(0)?.to).toSatisfy(sentTo(`buyer-${list[1]!.id}@`));

    // 2. a cancel: the ticket is the waitlist's, not the next plain order's
    expect(
      (await server.http('POST', `/api/bookings/${cancel.body.id}/cancel`, { token: cancelling!.token })).status,
    ).toBe(200);
    const snatch = await server.http('POST', `/api/events/${eventId}/book`, { token: outsider!.token, body: {} });
    expect(snatch.status).toBe(409);
    expect(snatch.body.error.code).toBe('SOLD_OUT');
    await runJobs();
    expect((await mine(list[2]!)).body.status).toBe('offered');
    expect(offerTo(1)?.to).toSatisfy(sentTo(`buyer-${list[2]!.id}@`));

    // 3. a refund (the event is ahead, so its ticket goes back on sale)
    const refund = await server.http('POST', `/api/bookings/${paid.bookingId}/refund`, {
      token: await server.deps.tokens.signAccess({ id: adminId, role: 'admin' }),
      body: { reason: 'Customer asked' },
    });
    expect(refund.status).toBe(200);
    await runJobs();
    expect((await mine(list[3]!)).body.status).toBe('offered');
    expect(offerTo(2)?.to).toSatisfy(sentTo(`buyer-${list[3]!.id}@`));
    expect((await mine(list[4]!)).body).toMatchObject({ status: 'waiting', position: 2 });

    // 4. nobody pays: the three offers lapse and pass on; the first in line now fits (two), then the fifth
    clock.advance(11 * MINUTE);
    await runJobs();
    const after = await Promise.all(list.map(async (buyer) => (await mine(buyer)).body.status));
    expect(after).toEqual(['offered', 'passed', 'passed', 'passed', 'offered']);
    expect(offerTo(3)?.to).toSatisfy(sentTo(`buyer-${list[0]!.id}@`));
    expect(offerTo(4)?.to).toSatisfy(sentTo(`buyer-${list[4]!.id}@`));
    expect(smtp.mails.filter((mail) => mail.subject?.includes('waiting for you'))).toHaveLength(5);

    // the mail's link is the offer's payment link: an opaque reference, no credential in it
    const link = (offerTo(4)?.text ?? '').match(/https?:\/\/\S+/)?.[0] as string;
    const offered = (await mine(list[4]!)).body;
    expect(link).toBe(offered.offer.paymentUrl);
    expect(link).toMatch(/\/payments\/paypal\/start\?ref=/);
    expect(link).not.toContain(list[4]!.token);

    // 5. the fifth pays through that link; the first leaves, and its two tickets are on open sale again
    const orderId = await startPayment({ paymentUrl: link });
    expect((await visit(await pressPayPalButton(server, orderId, 'approve'))).body.state).toBe('confirmed');
    await runJobs();
    expect((await mine(list[4]!)).body.status).toBe('booked');
    expect(
      (await server.http('POST', `/api/events/${eventId}/waitlist/leave`, { token: list[0]!.token })).body.status,
    ).toBe('left');
    await runJobs();
    const open = await server.http('POST', `/api/events/${eventId}/book`, { token: outsider!.token, body: {} });
    expect(open.status).toBe(200);

    const state = await server.http('GET', `/api/admin/events/${eventId}/waitlist`, {
      token: await server.deps.tokens.signAccess({ id: adminId, role: 'admin' }),
    });
    expect(state.body.counts).toEqual({ waiting: 0, offered: 0, booked: 1, passed: 3, left: 2 });
    await expectBalanced(server, eventId);
  }, 60_000);

  it('is only for sold-out events, and leaving or reading needs an entry', async () => {
    const eventId = await seedEvent(server, { capacity: 2, priceMinor: 2500 });
    const [buyer] = await makeBuyers(server, 1);
    const refused = await server.http('POST', `/api/events/${eventId}/waitlist`, { token: buyer!.token, body: {} });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'WAITLIST_NOT_OPEN', details: { available: 2 } });
    expect((await server.http('GET', `/api/events/${eventId}/waitlist`, { token: buyer!.token })).body.error.code).toBe(
      'WAITLIST_ENTRY_NOT_FOUND',
    );
  });
});
