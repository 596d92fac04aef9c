import { type Context, Hono } from 'hono';
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { SimEnv } from './operations.ts';
import { appendQuery, type RedirectPolicy } from './redirects.ts';
import type { SimMoney, SimOrder, SimStore } from './state.ts';
import type { WebhookPublisher } from './webhooks.ts';

/**
 * The buyer's side: PayPal's approval page with Approve and Cancel, and the pages a buyer sees when
 * there is nothing left to approve. Every value is escaped by hono/html; no page carries a script.
 * Every dead end says what to do next, with a link back to the shop when there is a safe one.
 */

type Markup = HtmlEscapedString | Promise<HtmlEscapedString>;
type NextStep = { href: string; label: string } | { text: string };

const PAGE_STYLE = `
  :root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  body { margin: 0; background: #f5f7fa; color: #1a1a1a; }
  header { background: #003087; color: #fff; padding: 14px 24px; font-weight: 600; letter-spacing: .2px; }
  header span { color: #9cc3ff; font-weight: 400; }
  main { max-width: 440px; margin: 40px auto; background: #fff; border-radius: 12px; padding: 28px;
         box-shadow: 0 2px 12px rgba(0,0,0,.08); }
  h1 { font-size: 1.25rem; margin: 0 0 4px; }
  .amount { font-size: 2rem; font-weight: 700; margin: 8px 0 20px; }
  .notice { background: #fff8e1; border: 1px solid #ffe08a; border-radius: 8px; padding: 8px 12px; font-size: .85rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; margin: 0 0 24px; font-size: .95rem; }
  dt { color: #5f6b7a; }
  dd { margin: 0; overflow-wrap: anywhere; }
  form { margin: 0 0 10px; }
  button, a.back { display: block; box-sizing: border-box; width: 100%; border: 0; border-radius: 24px; padding: 12px;
                   font-size: 1rem; font-weight: 600; cursor: pointer; text-align: center; text-decoration: none; }
  .approve { background: #ffc439; color: #111; }
  .approve:hover { background: #f2ba36; }
  .cancel, a.back { background: #fff; color: #0070ba; border: 1px solid #0070ba; }
  .next { color: #5f6b7a; }
  a { color: #0070ba; }
`;

function layout(title: string, body: Markup): Markup {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title} · PayPal Sandbox Simulator</title>
<style>${raw(PAGE_STYLE)}</style>
</head>
<body>
<header>PayPal <span>Sandbox Simulator</span></header>
<main>
${body}
</main>
</body>
</html>`;
}

function formatAmount(money: SimMoney): string {
  try {
    const formatted = new Intl.NumberFormat('en-US', { style: 'currency', currency: money.currency_code }).format(
      Number(money.value),
    );
    return `${formatted} ${money.currency_code}`;
  } catch {
    return `${money.value} ${money.currency_code}`;
  }
}

function sendPage(c: Context, status: number, title: string, body: Markup) {
  c.header('Cache-Control', 'no-store');
  c.header('Referrer-Policy', 'no-referrer');
  c.header(
    'Content-Security-Policy',
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  );
  return c.html(layout(title, body), status as ContentfulStatusCode);
}

function messagePage(c: Context, status: number, title: string, lines: string[], next: NextStep) {
  return sendPage(
    c,
    status,
    title,
    html`<h1>${title}</h1>
${lines.map((line) => html`<p>${line}</p>`)}
${'href' in next ? html`<p><a class="back" href="${next.href}">${next.label}</a></p>` : html`<p class="next">${next.text}</p>`}`,
  );
}

export function approvalPages(deps: {
  store: SimStore;
  redirects: RedirectPolicy;
  merchantName: string;
  /** Path the forms post to (the simulator's own path), so pages work under any host name. */
  formBase: string;
  /** Where a buyer with no order left to pay can go back to; without it the page says what to do. */
  homeUrl?: string;
  webhooks: WebhookPublisher;
}): Hono<SimEnv> {
  const { store, redirects, merchantName, formBase } = deps;
  const app = new Hono<SimEnv>();

  const shopOf = (order: SimOrder) => order.brandName ?? merchantName;
  const closeWindow = (order: SimOrder): NextStep => ({
    text: `You can close this window and go back to ${shopOf(order)}.`,
  });
  const back = (order: SimOrder, href: string | undefined): NextStep =>
    href ? { href, label: `Return to ${shopOf(order)}` } : closeWindow(order);
  // checked again here: a state file from another configuration must not turn into a redirect
  const returnLocation = (order: SimOrder) =>
    order.returnUrl && order.payer && redirects.allows(order.returnUrl)
      ? appendQuery(order.returnUrl, { token: order.id, PayerID: order.payer.payerId })
      : undefined;
  const cancelLocation = (order: SimOrder) =>
    order.cancelUrl && redirects.allows(order.cancelUrl)
      ? appendQuery(order.cancelUrl, { token: order.id })
      : undefined;
  /** A finished order: a paid one leads back to the shop's return page, a voided one to its cancel page. */
  const afterClosed = (order: SimOrder) =>
    back(order, order.status === 'COMPLETED' ? returnLocation(order) : cancelLocation(order));

  const notFoundPage = (c: Context) =>
    messagePage(
      c,
      404,
      'Checkout not found',
      ['This checkout session has expired or does not exist.', 'Nothing was charged.'],
      deps.homeUrl
        ? { href: deps.homeUrl, label: `Return to ${merchantName}` }
        : { text: `Go back to ${merchantName} and start the payment again from your booking.` },
    );

  app.get('/checkoutnow', (c) => {
    const order = store.order(c.req.query('token') ?? '');
    if (!order) return notFoundPage(c);
    const shop = shopOf(order);
    if (order.status === 'APPROVED') {
      return messagePage(
        c,
        200,
        'Payment approved',
        [`You already approved this payment to ${shop}.`],
        back(order, returnLocation(order)),
      );
    }
    if (order.status === 'COMPLETED') {
      return messagePage(c, 200, 'Payment complete', [`This payment to ${shop} is complete.`], afterClosed(order));
    }
    if (order.status === 'VOIDED') {
      return messagePage(
        c,
        410,
        'Checkout closed',
        ['This order was voided and can no longer be paid.', 'Nothing was charged.'],
        afterClosed(order),
      );
    }
    const rows = [
      ['Merchant', shop],
      ...(order.description ? [['Description', order.description]] : []),
      ['Amount', formatAmount(order.amount)],
      ['Order', order.id],
      ['Paying as', 'sb-buyer@personal.example.com (simulated)'],
    ];
    const hidden = html`<input type="hidden" name="token" value="${order.id}">`;
    return sendPage(
      c,
      200,
      `Pay ${shop}`,
      html`<p class="notice">Simulated checkout: no real money moves.</p>
<h1>Pay ${shop}</h1>
<p class="amount">${formatAmount(order.amount)}</p>
<dl>
${rows.map(([term, value]) => html`<dt>${term}</dt><dd>${value}</dd>\n`)}</dl>
<form method="post" action="${formBase}/checkoutnow/approve">${hidden}<button class="approve" type="submit">Approve</button></form>
<form method="post" action="${formBase}/checkoutnow/cancel">${hidden}<button class="cancel" type="submit">Cancel</button></form>`,
    );
  });

  async function formOrder(c: Context): Promise<SimOrder | undefined> {
    const form = await c.req.parseBody();
    return typeof form.token === 'string' ? store.order(form.token) : undefined;
  }

  app.post('/checkoutnow/approve', async (c) => {
    const order = await formOrder(c);
    if (!order) return notFoundPage(c);
    const approved = store.approve(order);
    if (approved === 'approved') deps.webhooks.orderApproved(order);
    if (approved === 'closed') {
      return messagePage(
        c,
        409,
        'Checkout closed',
        [`This order is ${order.status.toLowerCase()} and cannot be approved.`],
        afterClosed(order),
      );
    }
    const location = returnLocation(order);
    if (!location) return messagePage(c, 200, 'Payment approved', ['Your approval was recorded.'], closeWindow(order));
    return c.redirect(location, 303);
  });

  app.post('/checkoutnow/cancel', async (c) => {
    const order = await formOrder(c);
    if (!order) return notFoundPage(c);
    order.cancelCount += 1;
    store.changed();
    const location = cancelLocation(order);
    if (!location) {
      return messagePage(
        c,
        200,
        'Payment cancelled',
        ['You cancelled this payment. Nothing was charged.'],
        closeWindow(order),
      );
    }
    return c.redirect(location, 303);
  });

  return app;
}
