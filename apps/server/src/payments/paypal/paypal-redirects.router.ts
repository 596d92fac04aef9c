import { DomainError } from '@boxoffice/contracts';
import type { Booking, EntityManager } from '@boxoffice/db';
import { Hono, type Context as HonoContext } from 'hono';
import type { AppDeps } from '../../deps.ts';
import { errorBody, errorHeaders, toDomainError } from '../../errors.ts';
import { clientIp } from '../../lib/client-ip.ts';
import { toBookingDto } from '../../modules/bookings/booking-dto.ts';
import { ticketRowsOfBooking, toTicket } from '../../modules/tickets/tickets.service.ts';
import {
  bookingForRedirect,
  type CheckoutDeps,
  cancelCheckout,
  openCheckout,
  paymentStartUrl,
  type RefundState,
  type SettleOutcome,
  settlePayment,
} from '../checkout.service.ts';
import { type PageInput, type PageTicket, renderPaymentPage } from './pages.ts';

type Reply = {
  status: 200 | 202 | 400 | 404 | 409 | 410 | 422 | 502;
  state: string;
  page: Omit<PageInput, 'booking' | 'eventTitle'>;
};

/** What a buyer is told about money PayPal took for a booking that got no tickets. */
function refundLine(refund: RefundState): string {
  if (refund === 'done') return 'PayPal took the payment; it has been refunded in full.';
  if (refund === 'scheduled') return 'PayPal took the payment; it is being refunded automatically.';
  return 'You have not been charged.';
}

function describeOutcome(outcome: SettleOutcome): Reply {
  const held = outcome.booking.status === 'HELD';
  const until = new Date(outcome.booking.holdExpiresAt).toUTCString();
  switch (outcome.kind) {
    case 'confirmed':
      return {
        status: 200,
        state: 'confirmed',
        page: {
          tone: 'ok',
          title: 'Payment received: your tickets are confirmed',
          lines: ['Keep the booking reference below; you will need it at the door.'],
        },
      };
    case 'pending':
      return {
        status: 202,
        state: 'pending',
        page: {
          tone: 'wait',
          title: 'Payment is being processed',
          lines: [
            held
              ? `PayPal has not finished the payment yet. Your tickets stay held until ${until}; reload this page to check again.`
              : 'PayPal has not finished the payment yet. If it completes, you get the tickets if any are left, or your money back.',
          ],
        },
      };
    case 'processing':
      return {
        status: 202,
        state: 'processing',
        page: {
          tone: 'wait',
          title: 'Payment received: finishing your booking',
          lines: ['PayPal has your payment and we are completing the booking. Reload this page in a moment.'],
        },
      };
    case 'not_approved':
      return {
        status: 409,
        state: 'not_approved',
        page: {
          tone: 'wait',
          title: 'Payment not approved yet',
          lines: [
            'PayPal has not approved this payment. Nothing was charged. You can approve it, or pay another way, at PayPal.',
          ],
          ...(held && outcome.booking.paymentUrl
            ? { action: { href: outcome.booking.paymentUrl, label: 'Continue at PayPal' } }
            : {}),
        },
      };
    case 'expired':
      return {
        status: 410,
        state: 'expired',
        page: {
          tone: 'bad',
          title: 'Your hold expired',
          lines: [
            'The hold ran out before the payment completed, and the tickets could not be held for you again.',
            refundLine(outcome.refund),
          ],
        },
      };
    case 'cancelled':
      return {
        status: 409,
        state: 'cancelled',
        page: {
          tone: 'bad',
          title: 'This booking is no longer open',
          lines: ['The hold was released, so this payment cannot complete it.', refundLine(outcome.refund)],
        },
      };
    case 'failed':
      return {
        status: outcome.reason === 'declined' ? 409 : 422,
        state: `failed_${outcome.reason}`,
        page: {
          tone: 'bad',
          title:
            outcome.reason === 'declined'
              ? 'Payment declined'
              : outcome.reason === 'unknown_order'
                ? 'PayPal does not know this payment'
                : 'We could not verify this payment',
          lines:
            outcome.reason === 'declined'
              ? ['PayPal declined the payment and the hold was released.', refundLine('none')]
              : outcome.reason === 'unknown_order'
                ? ['PayPal has no record of this checkout (it may have expired). Nothing was confirmed.']
                : ['The payment did not match this booking, so nothing was confirmed.', refundLine(outcome.refund)],
        },
      };
    case 'unavailable':
      return {
        status: 502,
        state: 'unavailable',
        page: {
          tone: 'wait',
          title: 'PayPal is not answering',
          lines: ['Nothing was confirmed and nothing is charged twice. Reload this page in a moment to try again.'],
        },
      };
  }
}

/** A booking whose payment link was followed when there is nothing left to pay for. */
function describeClosed(booking: Booking, back: string): Reply {
  const action = { href: back, label: 'Back' };
  switch (booking.status) {
    case 'CONFIRMED':
      return {
        status: 409,
        state: 'confirmed',
        page: {
          tone: 'ok',
          title: 'This booking is already paid',
          lines: ['Your tickets are confirmed; there is nothing more to pay.'],
          action,
        },
      };
    case 'EXPIRED':
      return {
        status: 410,
        state: 'expired',
        page: {
          tone: 'bad',
          title: 'Your hold expired',
          lines: [
            'The hold ran out before the payment was started, and the tickets went back on sale.',
            refundLine('none'),
          ],
          action,
        },
      };
    default:
      return {
        status: 409,
        state: booking.status.toLowerCase(),
        page: {
          tone: 'bad',
          title: 'This booking is no longer open',
          lines: [`It is ${booking.status.toLowerCase()}, so there is nothing to pay.`, refundLine('none')],
          action,
        },
      };
  }
}

/**
 * Where "Back" leads from a payment page: the page the buyer came from when it is ours or an
 * allowed shop's (CORS_ORIGINS), otherwise the event itself.
 */
function backLink(c: HonoContext, deps: AppDeps, booking: Booking): string {
  const referer = c.req.header('referer');
  if (referer) {
    try {
      const origin = new URL(referer).origin;
      if (origin === new URL(deps.config.publicUrl).origin || deps.config.CORS_ORIGINS.includes(origin)) return referer;
    } catch {
      // not a URL: ignored
    }
  }
  return `${deps.config.publicUrl}/api/events/${booking.eventId}`;
}

async function eventTitleOf(deps: AppDeps, booking: Booking): Promise<string | undefined> {
  const rows = await deps.orm.em
    .fork()
    .execute<{ title: string }[]>('SELECT title FROM events WHERE id = ?', [booking.eventId]);
  return rows[0]?.title;
}

/**
 * The return page's URL carries PayPal's order id and stays in the browser's history, so it must not
 * become a lasting copy of the tickets: their codes are shown only this soon after the confirmation
 * (the buyer is on the page). Later visits point to the e-mail and the account, which need a sign-in.
 */
export const RETURN_PAGE_TICKETS_WINDOW_MS = 15 * 60_000;

/** A confirmed booking's tickets as the page shows them, while the window above is open. */
async function pageTickets(deps: AppDeps, booking: Booking): Promise<PageTicket[]> {
  const confirmedAt = booking.confirmedAt?.getTime();
  if (confirmedAt === undefined || deps.clock.now().getTime() - confirmedAt > RETURN_PAGE_TICKETS_WINDOW_MS) return [];
  const rows = await ticketRowsOfBooking(deps.orm.em.fork(), booking.id);
  return Promise.all(rows.map((row) => toTicket(deps.tickets.signer, row)));
}

function wantsJson(c: HonoContext): boolean {
  return (c.req.header('accept') ?? '').includes('application/json');
}

/**
 * PayPal sends the buyer's browser here. Browsers get a page; `Accept: application/json` gets JSON.
 * The URL carries PayPal's order token and our signed booking reference, never a credential.
 */
export function paypalRedirectRoutes(deps: AppDeps, checkout: CheckoutDeps): Hono {
  const app = new Hono();

  const respond = async (c: HonoContext, reply: Reply, booking: Booking) => {
    c.header('Cache-Control', 'no-store');
    if (wantsJson(c))
      return c.json(
        { state: reply.state, booking: toBookingDto(booking, paymentStartUrl(checkout, booking.id)) },
        reply.status,
      );
    const eventTitle = await eventTitleOf(deps, booking);
    const tickets = booking.status === 'CONFIRMED' ? await pageTickets(deps, booking) : [];
    return c.html(
      renderPaymentPage({ ...reply.page, booking, tickets, ...(eventTitle ? { eventTitle } : {}) }),
      reply.status,
    );
  };

  const refuse = (c: HonoContext, error: unknown) => {
    const domain = toDomainError(error);
    if (domain.code === 'INTERNAL') throw error;
    c.header('Cache-Control', 'no-store');
    for (const [name, value] of Object.entries(errorHeaders(domain))) c.header(name, value);
    if (wantsJson(c)) return c.json(errorBody(domain), domain.status as 400);
    const limited = domain.code === 'RATE_LIMITED';
    if (domain.code === 'PAYMENT_PROVIDER_ERROR')
      return c.html(
        renderPaymentPage({
          tone: 'wait',
          title: 'PayPal is not answering',
          lines: [domain.message, 'Nothing was charged. Reload this page in a moment to try again.'],
        }),
        502,
      );
    return c.html(
      renderPaymentPage({
        tone: 'bad',
        title: limited ? 'Too many attempts' : 'This payment link is not valid',
        lines: [domain.message, limited ? 'Wait a moment, then reload this page.' : 'Nothing was changed or charged.'],
      }),
      domain.status as 400,
    );
  };

  // anyone may open these links, so they are limited per address like sign-in is
  app.use('*', async (c, next) => {
    try {
      await deps.rateLimiter.consume(
        `payments:ip:${clientIp(c, deps.config.TRUST_PROXY)}`,
        deps.config.RATE_LIMIT_PAYMENT_PER_MINUTE,
      );
    } catch (error) {
      return refuse(c, error);
    }
    await next();
  });

  /** The booking PayPal's redirect is about: its order token and our signed reference must agree. */
  const bookingOfRedirect = (c: HonoContext, em: EntityManager) =>
    bookingForRedirect(checkout, em, { token: c.req.query('token'), ref: c.req.query('ref') });

  /** A redirect page: its own EntityManager, and any failure shown as a refusal page. */
  const redirectPage = (handle: (c: HonoContext, em: EntityManager) => Promise<Response>) => async (c: HonoContext) => {
    try {
      return await handle(c, deps.orm.em.fork());
    } catch (error) {
      return refuse(c, error);
    }
  };

  // the link a hold answers with: the PayPal order is created here, when the buyer goes to pay
  app.get(
    '/start',
    redirectPage(async (c, em) => {
      const opening = await openCheckout(checkout, em, c.req.query('ref'));
      if (opening.kind === 'closed')
        return respond(c, describeClosed(opening.booking, backLink(c, deps, opening.booking)), opening.booking);
      c.header('Cache-Control', 'no-store');
      return c.redirect(opening.approvalUrl, 303);
    }),
  );

  app.get(
    '/return',
    redirectPage(async (c, em) => {
      const bookingId = await bookingOfRedirect(c, em);
      const outcome = await settlePayment(checkout, em, bookingId);
      return respond(c, describeOutcome(outcome), outcome.booking);
    }),
  );

  app.get(
    '/cancel',
    redirectPage(async (c, em) => {
      const bookingId = await bookingOfRedirect(c, em);
      const { booking, released } = await cancelCheckout(checkout, em, bookingId);
      const reply: Reply =
        booking.status === 'CANCELLED'
          ? {
              status: 200,
              state: 'cancelled',
              page: {
                tone: 'bad',
                title: 'Payment cancelled',
                lines: [
                  released
                    ? 'Your hold was released and the tickets are back on sale.'
                    : 'This hold had already been released.',
                  'You have not been charged.',
                ],
              },
            }
          : booking.status === 'CONFIRMED'
            ? {
                status: 409,
                state: 'confirmed',
                page: {
                  tone: 'ok',
                  title: 'This booking is already paid',
                  lines: ['Cancelling at PayPal changed nothing: your tickets are confirmed.'],
                },
              }
            : {
                status: 409,
                state: booking.status.toLowerCase(),
                page: {
                  tone: 'bad',
                  title: 'This booking is no longer open',
                  lines: [`It is ${booking.status.toLowerCase()}; nothing changed.`],
                },
              };
      return respond(c, reply, booking);
    }),
  );

  app.notFound((c) => refuse(c, new DomainError('NOT_FOUND', 'No such payment route')));
  return app;
}
