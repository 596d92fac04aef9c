import { currencyExponent } from '@boxoffice/contracts';
import type { Booking } from '@boxoffice/db';
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

export type PageInput = {
  tone: 'ok' | 'wait' | 'bad';
  title: string;
  lines: string[];
  booking?: Booking;
  eventTitle?: string;
  action?: { href: string; label: string };
  /** A confirmed booking's tickets, shown with their QR codes. */
  tickets?: PageTicket[];
};

export type PageTicket = { seq: number; code: string; qrSvg: string; attendeeName: string | null; status: string };

/** hono/html escapes every interpolated value; with nothing asynchronous inside, its result is a plain string. */
function text(markup: HtmlEscapedString | Promise<HtmlEscapedString>): string {
  if (markup instanceof Promise) throw new TypeError('payment page markup must be synchronous');
  return markup.toString();
}

export function formatMoney(amountMinor: number, currency: string): string {
  const code = currency.trim();
  return new Intl.NumberFormat('en', { style: 'currency', currency: code }).format(
    amountMinor / 10 ** currencyExponent(code),
  );
}

const COLORS = { ok: '#137333', wait: '#b06000', bad: '#b3261e' };

/** The page a buyer lands on after PayPal: what happened, the booking reference, what comes next. */
export function renderPaymentPage(page: PageInput): string {
  const b = page.booking;
  const details = b
    ? html`<dl>
        <dt>Booking reference</dt><dd><code>${b.id}</code></dd>
        ${page.eventTitle ? html`<dt>Event</dt><dd>${page.eventTitle}</dd>` : ''}
        <dt>Tickets</dt><dd>${b.quantity}</dd>
        <dt>Total</dt><dd>${formatMoney(b.totalMinor, b.currency)}</dd>
        <dt>Status</dt><dd data-testid="booking-status">${b.status}</dd>
      </dl>`
    : '';
  const tickets = page.tickets?.length
    ? html`<h2>Your tickets</h2>
      <p>Show a QR code at the door. They are in your e-mail as a PDF too.</p>
      <div class="tickets">
        ${page.tickets.map(
          (t) => html`<figure class="ticket" data-testid="ticket">
          <img alt="QR code of ticket ${t.seq}" width="220" height="220"
               src="data:image/svg+xml;base64,${Buffer.from(t.qrSvg).toString('base64')}">
          <figcaption>Ticket ${t.seq}${t.attendeeName ? html` · ${t.attendeeName}` : ''}${t.status === 'void' ? ' · VOID' : ''}</figcaption>
        </figure>`,
        )}
      </div>`
    : page.booking?.status === 'CONFIRMED'
      ? html`<p data-testid="tickets-elsewhere">Your tickets are in your e-mail (a PDF) and in your account.</p>`
      : '';
  const action = page.action ? html`<p><a class="button" href="${page.action.href}">${page.action.label}</a></p>` : '';
  return text(html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} · Boxoffice</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; background: #f4f5f7; color: #1f2328; margin: 0; }
  main { max-width: 34rem; margin: 4rem auto; background: #fff; border-radius: 12px; padding: 2rem 2.25rem;
         box-shadow: 0 1px 3px rgba(0,0,0,.12); border-top: 6px solid ${COLORS[page.tone]}; }
  h1 { margin: 0 0 .75rem; font-size: 1.5rem; color: ${COLORS[page.tone]}; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1.25rem; margin: 1.5rem 0; }
  dt { color: #57606a; } dd { margin: 0; font-weight: 600; }
  code { font-size: .85rem; }
  h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
  .tickets { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 1rem; }
  .ticket { margin: 0; text-align: center; border: 1px solid #d0d7de; border-radius: 8px; padding: .75rem; }
  .ticket img { max-width: 100%; height: auto; }
  .brand { color: #57606a; font-size: .85rem; letter-spacing: .08em; text-transform: uppercase; }
  .button { display: inline-block; background: #0070ba; color: #fff; padding: .6rem 1.2rem; border-radius: 6px; text-decoration: none; }
</style>
</head>
<body>
<main>
  <div class="brand">Boxoffice</div>
  <h1>${page.title}</h1>
  ${page.lines.map((line) => html`<p>${line}</p>\n  `)}
  ${details}
  ${tickets}
  ${action}
</main>
</body>
</html>`);
}
