import { extractText } from 'unpdf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../lib/clock.ts';
import { formatLocalTime } from '../../lib/local-time.ts';
import { makeBuyers, pressPayPalButton, seedEvent } from '../../test/fixtures.ts';
import { signInAdmin, startTestServer, type TestServer } from '../../test/harness.ts';
import { paidHold } from '../../test/money.ts';
import { startTestSmtpServer, type TestSmtpServer } from '../mail/smtp-test-server.ts';

// End to end over HTTP: buying issues tickets, the confirmation mail reaches a real SMTP server
// with the PDF, refunds and cancellations void tickets and are mailed once, retries survive SMTP
// failures. Jobs run where a test calls runDue(), on the test clock.
const clock = manualClock(new Date('2026-12-01T10:00:00Z'));
let server: TestServer;
let smtp: TestSmtpServer;
let admin: string;
beforeAll(async () => {
  smtp = await startTestSmtpServer();
  server = await startTestServer({
    clock,
    pollJobs: false,
    env: { SMTP_URL: smtp.url, SMTP_TIMEOUT_MS: '2000', ACCESS_TOKEN_EXPIRE_MINUTES: '1440' },
  });
  admin = (await signInAdmin(server)).accessToken;
});
afterAll(async () => {
  await server?.close();
  await smtp?.close();
});

const visit = (url: string) => server.http('GET', url.replace(server.url, ''));
const mailsTo = (address: string) =>
  smtp.mails.filter((mail) => mail.to && !Array.isArray(mail.to) && mail.to.value[0]?.address === address);
const emailOf = async (userId: string) =>
  (await server.sql<{ email: string }>('SELECT email FROM users WHERE id = ?', [userId]))[0]?.email as string;

/** A paid booking of `quantity` tickets, confirmed through the PayPal return page. */
async function confirmedBooking(quantity: number, eventId?: string) {
  const held = await paidHold(server, { quantity, eventId });
  const back = await pressPayPalButton(server, held.orderId, 'approve');
  const res = await visit(back);
  expect(res.body.state).toBe('confirmed');
  return held;
}

async function pdfText(pdf: Buffer): Promise<string> {
  const { text } = await extractText(new Uint8Array(pdf), { mergePages: true });
  return text;
}

describe('tickets of a confirmed booking', () => {
  it('buying 3 tickets gives 3 tickets with distinct codes, mailed once with a PDF holding the codes and the local start time', async () => {
    const startsAt = new Date('2027-01-15T18:30:00Z');
    const eventId = await seedEvent(server, { capacity: 10, priceMinor: 2500, startsAt, title: 'Winter Gala' });
    const held = await confirmedBooking(3, eventId);

    const listed = await server.http('GET', `/api/bookings/${held.bookingId}/tickets`, { token: held.token });
    expect(listed.status).toBe(200);
    const tickets = listed.body.items as { id: string; code: string; qrSvg: string; seq: number; status: string }[];
    expect(tickets).toHaveLength(3);
    expect(new Set(tickets.map((t) => t.code)).size).toBe(3);
    expect(tickets.map((t) => t.seq)).toEqual([1, 2, 3]);
    expect(tickets.every((t) => t.status === 'valid' && t.qrSvg.startsWith('<svg'))).toBe(true);
    expect(listed.body.items[0].event.startsAtLocal).toBe('Fri, 15 Jan 2027, 19:30 CET');

    // no mail before the job runs: the request never waited for SMTP
    const to = await emailOf(held.buyerId);
    expect(mailsTo(to)).toHaveLength(0);
    await server.worker.runDue();
    await server.worker.runDue();
    const mails = mailsTo(to);
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.subject).toBe('Your tickets for Winter Gala');
    expect(mail.text).toContain('Fri, 15 Jan 2027, 19:30 CET');
    expect(mail.html).toContain('Winter Gala');
    const pdf = mail.attachments.find((a) => a.contentType === 'application/pdf');
    expect(pdf).toBeDefined();
    const text = await pdfText(pdf!.content);
    for (const ticket of tickets) expect(text).toContain(ticket.code);
    expect(text).toContain(formatLocalTime(startsAt, 'Europe/Berlin'));
    expect(text).toContain('Winter Gala');
    expect(text).toContain('Hall, 1 Main St');

    // the download is the same PDF, for the buyer only
    const download = await fetch(`${server.url}/api/bookings/${held.bookingId}/tickets.pdf`, {
      headers: { authorization: `Bearer ${held.token}` },
    });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/pdf');
    const downloaded = await pdfText(Buffer.from(await download.arrayBuffer()));
    for (const ticket of tickets) expect(downloaded).toContain(ticket.code);
    const [stranger] = await makeBuyers(server, 1);
    const refused = await server.http('GET', `/api/bookings/${held.bookingId}/tickets.pdf`, { token: stranger!.token });
    expect(refused.status).toBe(404);
    expect((await server.http('GET', `/api/bookings/${held.bookingId}/tickets.pdf`)).status).toBe(401);
    expect((await server.http('GET', '/api/bookings/not-a-uuid/tickets.pdf', { token: held.token })).status).toBe(400);

    // running the jobs again sends nothing more
    await server.worker.runDue();
    expect(mailsTo(to)).toHaveLength(1);
  });

  it('tickets.listMine lists the buyer’s tickets; the attendee name can change until the event starts', async () => {
    const startsAt = new Date(clock.now().getTime() + 3_600_000);
    const eventId = await seedEvent(server, { capacity: 10, priceMinor: 0, startsAt });
    const [buyer] = await makeBuyers(server, 1);
    const booked = await server.http('POST', `/api/events/${eventId}/book`, {
      token: buyer!.token,
      body: { quantity: 2 },
    });
    expect(booked.body.status).toBe('CONFIRMED');
    const mine = await server.http('GET', `/api/tickets?eventId=${eventId}`, { token: buyer!.token });
    expect(mine.body.items).toHaveLength(2);
    const ticketId = mine.body.items[0].id as string;

    const named = await server.http('PATCH', `/api/tickets/${ticketId}`, {
      token: buyer!.token,
      body: { attendeeName: '  Ada Lovelace ' },
    });
    expect(named.status).toBe(200);
    expect(named.body.attendeeName).toBe('Ada Lovelace');
    const [other] = await makeBuyers(server, 1);
    const notYours = await server.http('PATCH', `/api/tickets/${ticketId}`, {
      token: other!.token,
      body: { attendeeName: 'Mallory' },
    });
    expect(notYours.status).toBe(404);
    expect(notYours.body.error.code).toBe('TICKET_NOT_FOUND');
    const extra = await server.http('PATCH', `/api/tickets/${ticketId}`, {
      token: buyer!.token,
      body: { attendeeName: 'X', role: 'admin' },
    });
    expect(extra.status).toBe(400);

    clock.advance(2 * 3_600_000);
    const late = await server.http('PATCH', `/api/tickets/${ticketId}`, {
      token: buyer!.token,
      body: { attendeeName: 'Bob' },
    });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('TICKET_NOT_EDITABLE');
    const after = await server.http('GET', `/api/tickets?eventId=${eventId}`, { token: buyer!.token });
    expect(after.body.items.find((t: { id: string }) => t.id === ticketId).attendeeName).toBe('Ada Lovelace');
  });

  it('parallel free bookings (batched in one transaction) each get their tickets and one confirmation mail', async () => {
    const eventId = await seedEvent(server, { capacity: 100, priceMinor: 0 });
    const buyers = await makeBuyers(server, 20);
    const booked = await Promise.all(
      buyers.map((buyer, i) =>
        server.http('POST', `/api/events/${eventId}/book`, { token: buyer.token, body: { quantity: (i % 3) + 1 } }),
      ),
    );
    expect(booked.every((res) => res.body.status === 'CONFIRMED')).toBe(true);
    const rows = await server.sql<{ booking_id: string; quantity: number; tickets: number; mails: number }>(
      `SELECT b.id AS booking_id, b.quantity,
              (SELECT count(*)::int FROM tickets t WHERE t.booking_id = b.id) AS tickets,
              (SELECT count(*)::int FROM mail_outbox m WHERE m.kind = 'booking-confirmed' AND m.subject_key = b.id::text) AS mails
         FROM bookings b WHERE b.event_id = ?`,
      [eventId],
    );
    expect(rows).toHaveLength(20);
    for (const row of rows) expect(row).toMatchObject({ tickets: row.quantity, mails: 1 });
    const jobs = await server.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM graphile_worker.jobs j JOIN mail_outbox m ON j.key = 'send-mail:' || m.id::text
        JOIN bookings b ON m.subject_key = b.id::text WHERE b.event_id = ?`,
      [eventId],
    );
    expect(jobs[0]?.n).toBe(20);
    await server.worker.runDue();
  });

  it('an SMTP server that refuses the first two attempts still gets the mail, once', async () => {
    await server.worker.runDue();
    const eventId = await seedEvent(server, { capacity: 5, priceMinor: 0 });
    const [buyer] = await makeBuyers(server, 1);
    const to = await emailOf(buyer!.id);
    smtp.refuseNext(2);
    const before = smtp.attempts();
    const booked = await server.http('POST', `/api/events/${eventId}/book`, {
      token: buyer!.token,
      body: { quantity: 1 },
    });
    expect(booked.body.status).toBe('CONFIRMED');
    // graphile-worker backs off exp(attempts) seconds between tries, on the test clock
    for (let i = 0; i < 6 && mailsTo(to).length === 0; i++) {
      await server.worker.runDue();
      clock.advance(30_000);
    }
    expect(smtp.attempts() - before).toBe(3);
    expect(mailsTo(to)).toHaveLength(1);
    const [row] = await server.sql<{ attempts: number; sent_at: Date | null }>(
      "SELECT attempts, sent_at FROM mail_outbox WHERE kind = 'booking-confirmed' AND subject_key = ?",
      [booked.body.id],
    );
    expect(row).toMatchObject({ attempts: 3 });
    expect(row?.sent_at).not.toBeNull();
    clock.advance(3_600_000);
    await server.worker.runDue();
    expect(mailsTo(to)).toHaveLength(1);
  });

  it('a refund voids the tickets and is mailed once; cancelling the event voids the rest and tells each holder once', async () => {
    await server.worker.runDue();
    const eventId = await seedEvent(server, { capacity: 10, priceMinor: 2500, title: 'Spring Fair' });
    const refunded = await confirmedBooking(2, eventId);
    const kept = await confirmedBooking(1, eventId);
    const res = await server.http('POST', `/api/bookings/${refunded.bookingId}/refund`, {
      token: admin,
      body: { reason: 'Customer asked' },
    });
    expect(res.status).toBe(200);
    for (let i = 0; i < 3; i++) await server.worker.runDue();
    const voided = await server.http('GET', `/api/bookings/${refunded.bookingId}/tickets`, { token: refunded.token });
    expect(voided.body.items.map((t: { status: string; voidReason: string }) => [t.status, t.voidReason])).toEqual([
      ['void', 'refunded'],
      ['void', 'refunded'],
    ]);
    const refundMails = mailsTo(await emailOf(refunded.buyerId)).filter((m) => m.subject === 'Refund for Spring Fair');
    expect(refundMails).toHaveLength(1);

    const cancel = await server.http('POST', `/api/events/${eventId}/cancel`, { token: admin, body: {} });
    expect(cancel.status).toBe(200);
    for (let i = 0; i < 3; i++) await server.worker.runDue();
    const keptTickets = await server.http('GET', `/api/bookings/${kept.bookingId}/tickets`, { token: kept.token });
    expect(keptTickets.body.items[0]).toMatchObject({ status: 'void', voidReason: 'event_cancelled' });
    const keptMails = mailsTo(await emailOf(kept.buyerId));
    expect(keptMails.filter((m) => m.subject === 'Cancelled: Spring Fair')).toHaveLength(1);
    // the refunded buyer's tickets were void already: no cancellation mail for them
    expect(mailsTo(await emailOf(refunded.buyerId)).filter((m) => m.subject === 'Cancelled: Spring Fair')).toHaveLength(
      0,
    );
  });
});
