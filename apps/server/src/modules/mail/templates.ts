/**
 * Every mail's words, in one place: for each kind of mail (mail.ts), what makes it one of its kind
 * (`key`) and how it reads (`compose`: recipient, subject, plain text and HTML, attachments).
 * Times are shown in the event's own time zone. To add a kind, add its variant in mail.ts and an
 * entry in `templates` below; the type of `templates` asks for one per kind.
 */
import type { EntityManager } from '@boxoffice/db';
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { formatLocalTime } from '../../lib/local-time.ts';
import { formatMoney } from '../../payments/paypal/pages.ts';
import type { MailIntent, MailKind } from './mail.ts';

export type ComposedMail = {
  to: string;
  subject: string;
  text: string;
  html: string;
  attachments?: { filename: string; content: Buffer; contentType: string }[];
};

/** What templates may use besides the database: given by the composition root (deps.ts). */
export type MailContext = {
  /** The PDF of a booking's tickets. */
  ticketsPdf: (em: EntityManager, bookingId: string) => Promise<Buffer>;
  /** The server's public base URL, for links. */
  publicUrl: string;
  /** Where the buyer pays for a hold (a link of ours with an opaque reference, no credential). */
  paymentLink?: (bookingId: string) => string;
};

export type Template<I extends MailIntent> = {
  /** Unique per mail of this kind: a second request with the same key is the same mail. */
  key: (intent: I) => string;
  /** The mail as it should read now; null when there is nothing to send any more. */
  compose: (em: EntityManager, intent: I, ctx: MailContext) => Promise<ComposedMail | null>;
};

type Templates = { [K in MailKind]: Template<Extract<MailIntent, { kind: K }>> };

/** hono/html escapes every interpolated value; with nothing asynchronous inside, its result is a plain string. */
function markup(value: HtmlEscapedString | Promise<HtmlEscapedString>): string {
  if (value instanceof Promise) throw new TypeError('mail markup must be synchronous');
  return value.toString();
}

/** The HTML frame every mail shares; `body` is already escaped markup. */
function layout(title: string, body: HtmlEscapedString | Promise<HtmlEscapedString>): string {
  return markup(html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body style="font:16px/1.5 system-ui,sans-serif;color:#1f2328;background:#f4f5f7;margin:0;padding:24px">
<div style="max-width:560px;margin:auto;background:#fff;border-radius:10px;padding:24px 28px">
<p style="color:#57606a;font-size:12px;letter-spacing:.08em;text-transform:uppercase;margin:0 0 8px">Boxoffice</p>
<h1 style="font-size:22px;margin:0 0 16px">${title}</h1>
${body}
</div></body></html>`);
}

type BookingFacts = {
  booking_id: string;
  quantity: number;
  total_minor: number;
  currency: string;
  email: string;
  username: string;
  title: string;
  venue_name: string;
  address: string;
  starts_at: Date;
  timezone: string;
};

async function bookingFacts(em: EntityManager, bookingId: string): Promise<BookingFacts | null> {
  const [row] = await em.execute<BookingFacts[]>(
    `SELECT b.id AS booking_id, b.quantity, b.total_minor, b.currency, u.email, u.username,
            e.title, e.venue_name, e.address, e.starts_at, e.timezone
       FROM bookings b JOIN users u ON u.id = b.user_id JOIN events e ON e.id = b.event_id
      WHERE b.id = ?`,
    [bookingId],
  );
  return row ?? null;
}

function when(facts: { starts_at: Date; timezone: string }): string {
  return formatLocalTime(new Date(facts.starts_at), facts.timezone);
}

export const templates: Templates = {
  'booking-confirmed': {
    key: ({ bookingId }) => bookingId,
    compose: async (em, { bookingId }, ctx) => {
      const f = await bookingFacts(em, bookingId);
      if (!f) return null;
      const start = when(f);
      const plural = f.quantity === 1 ? 'ticket' : 'tickets';
      const subject = `Your ${plural} for ${f.title}`;
      const text = [
        `Hello ${f.username},`,
        '',
        `your booking is confirmed: ${f.quantity} ${plural} for ${f.title}.`,
        '',
        `When:  ${start}`,
        `Where: ${f.venue_name}, ${f.address}`,
        `Paid:  ${formatMoney(f.total_minor, f.currency)}`,
        `Booking reference: ${f.booking_id}`,
        '',
        `Your ${plural} are attached as a PDF: show the QR code at the door, on paper or on your phone.`,
        `You can also find them in Boxoffice: ${ctx.publicUrl}/api/bookings/${f.booking_id}/tickets`,
      ].join('\n');
      const body = html`<p>Hello ${f.username},</p>
<p>your booking is confirmed: <strong>${f.quantity} ${plural}</strong> for <strong>${f.title}</strong>.</p>
<p><strong>When:</strong> ${start}<br><strong>Where:</strong> ${f.venue_name}, ${f.address}<br>
<strong>Paid:</strong> ${formatMoney(f.total_minor, f.currency)}<br><strong>Booking reference:</strong> ${f.booking_id}</p>
<p>Your ${plural} are attached as a PDF: show the QR code at the door, on paper or on your phone.</p>`;
      return {
        to: f.email,
        subject,
        text,
        html: layout(subject, body),
        attachments: [
          {
            filename: `tickets-${f.booking_id}.pdf`,
            content: await ctx.ticketsPdf(em, bookingId),
            contentType: 'application/pdf',
          },
        ],
      };
    },
  },

  'booking-refunded': {
    key: ({ bookingId }) => bookingId,
    compose: async (em, { bookingId }) => {
      const f = await bookingFacts(em, bookingId);
      if (!f) return null;
      const amount = formatMoney(f.total_minor, f.currency);
      const subject = `Refund for ${f.title}`;
      const text = [
        `Hello ${f.username},`,
        '',
        `your booking for ${f.title} (${when(f)}) was refunded: ${amount} go back to your payment method.`,
        `Its tickets are no longer valid.`,
        `Booking reference: ${f.booking_id}`,
      ].join('\n');
      const body = html`<p>Hello ${f.username},</p>
<p>your booking for <strong>${f.title}</strong> (${when(f)}) was refunded: <strong>${amount}</strong> go back to your payment method.</p>
<p>Its tickets are no longer valid.<br>Booking reference: ${f.booking_id}</p>`;
      return { to: f.email, subject, text, html: layout(subject, body) };
    },
  },

  'event-cancelled': {
    key: ({ eventId, userId }) => `${eventId}:${userId}`,
    compose: async (em, { eventId, userId }) => {
      const [f] = await em.execute<
        { email: string; username: string; title: string; venue_name: string; starts_at: Date; timezone: string }[]
      >(
        `SELECT u.email, u.username, e.title, e.venue_name, e.starts_at, e.timezone
           FROM users u, events e WHERE u.id = ? AND e.id = ?`,
        [userId, eventId],
      );
      if (!f) return null;
      const subject = `Cancelled: ${f.title}`;
      const text = [
        `Hello ${f.username},`,
        '',
        `${f.title} at ${f.venue_name} on ${when(f)} has been cancelled.`,
        'Your tickets are no longer valid, and what you paid is refunded to your payment method.',
      ].join('\n');
      const body = html`<p>Hello ${f.username},</p>
<p><strong>${f.title}</strong> at ${f.venue_name} on ${when(f)} has been cancelled.</p>
<p>Your tickets are no longer valid, and what you paid is refunded to your payment method.</p>`;
      return { to: f.email, subject, text, html: layout(subject, body) };
    },
  },

  'waitlist-offer': {
    key: ({ bookingId }) => bookingId,
    compose: async (em, { bookingId }, ctx) => {
      const f = await bookingFacts(em, bookingId);
      const [hold] = await em.execute<{ status: string; hold_expires_at: Date; timezone: string }[]>(
        'SELECT b.status, b.hold_expires_at, e.timezone FROM bookings b JOIN events e ON e.id = b.event_id WHERE b.id = ?',
        [bookingId],
      );
      // an offer already paid, given up or lapsed has nothing left to say
      if (!f || hold?.status !== 'HELD') return null;
      const plural = f.quantity === 1 ? 'ticket' : 'tickets';
      const until = formatLocalTime(new Date(hold.hold_expires_at), hold.timezone);
      const link = ctx.paymentLink?.(bookingId) ?? `${ctx.publicUrl}/api/bookings/${bookingId}`;
      const amount = formatMoney(f.total_minor, f.currency);
      const subject = `Tickets for ${f.title} are waiting for you`;
      const text = [
        `Hello ${f.username},`,
        '',
        `tickets came back for ${f.title} (${when(f)}), and you are next on the waitlist:`,
        `${f.quantity} ${plural} are held for you until ${until}.`,
        '',
        `Pay ${amount} here: ${link}`,
        '',
        'If you do not pay by then, they go to the next person in line.',
      ].join('\n');
      const body = html`<p>Hello ${f.username},</p>
<p>tickets came back for <strong>${f.title}</strong> (${when(f)}), and you are next on the waitlist:
<strong>${f.quantity} ${plural}</strong> are held for you until <strong>${until}</strong>.</p>
<p><a href="${link}">Pay ${amount}</a></p>
<p>If you do not pay by then, they go to the next person in line.</p>`;
      return { to: f.email, subject, text, html: layout(subject, body) };
    },
  },

  'waiting-room-sold-out': {
    key: ({ eventId, userId }) => `${eventId}:${userId}`,
    compose: async (em, { eventId, userId }, ctx) => {
      const [f] = await em.execute<
        { email: string; username: string; title: string; starts_at: Date; timezone: string }[]
      >(
        'SELECT u.email, u.username, e.title, e.starts_at, e.timezone FROM users u, events e WHERE u.id = ? AND e.id = ?',
        [userId, eventId],
      );
      if (!f) return null;
      const subject = `Sold out: ${f.title}`;
      const waitlist = `${ctx.publicUrl}/api/events/${eventId}/waitlist`;
      const text = [
        `Hello ${f.username},`,
        '',
        `${f.title} (${when(f)}) sold out while you were in the waiting room.`,
        `You can join its waitlist: when tickets come back, they are offered in turn (${waitlist}).`,
      ].join('\n');
      const body = html`<p>Hello ${f.username},</p>
<p><strong>${f.title}</strong> (${when(f)}) sold out while you were in the waiting room.</p>
<p>You can join its waitlist: when tickets come back, they are offered in turn.</p>`;
      return { to: f.email, subject, text, html: layout(subject, body) };
    },
  },
};

/** The key that makes `intent` one mail (see `Template.key`). */
export function mailKey(intent: MailIntent): string {
  return (templates[intent.kind] as Template<MailIntent>).key(intent);
}

/** The mail `intent` asks for, as it reads now. */
export function composeMail(em: EntityManager, intent: MailIntent, ctx: MailContext): Promise<ComposedMail | null> {
  return (templates[intent.kind] as Template<MailIntent>).compose(em, intent, ctx);
}
