import { BookingIdInputSchema, DomainError } from '@boxoffice/contracts';
import { Hono } from 'hono';
import type { AppDeps } from '../../deps.ts';
import { requireBookingOf } from './tickets.service.ts';
import { renderTicketsPdf } from './tickets-pdf.ts';

/**
 * `GET /api/bookings/{bookingId}/tickets.pdf`: a plain Hono route, because trpc-to-openapi answers
 * JSON only. Same rules as the tRPC procedures: a bearer token, the booking's buyer or an admin.
 * Documented in openapi.ts.
 */
export function ticketPdfRoutes(deps: AppDeps) {
  const app = new Hono();
  app.get('/:bookingId/tickets.pdf', async (c) => {
    const parsed = BookingIdInputSchema.safeParse({ bookingId: c.req.param('bookingId') });
    if (!parsed.success)
      throw new DomainError('VALIDATION_FAILED', 'Invalid input: bookingId', {
        issues: [{ path: 'bookingId', message: 'expected a uuid', code: 'invalid_format' }],
      });
    // strict like every input: a parameter it does not define is refused
    const unknown = [...new URL(c.req.url).searchParams.keys()];
    if (unknown.length > 0)
      throw new DomainError('VALIDATION_FAILED', `Invalid input: unrecognized ${unknown.join(', ')}`, {
        issues: unknown.map((key) => ({ path: key, message: 'unrecognized key', code: 'unrecognized_keys' })),
      });
    const header = c.req.header('authorization');
    if (!header) throw new DomainError('UNAUTHENTICATED', 'Sign in first: send Authorization: Bearer <access token>');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw new DomainError('INVALID_TOKEN', 'Authorization header must be "Bearer <access token>"');
    const user = await deps.tokens.verifyAccess(match[1]);
    const em = deps.orm.em.fork();
    const { bookingId } = parsed.data;
    await requireBookingOf(em, user, bookingId);
    const pdf = await renderTicketsPdf(em, deps.tickets.signer, bookingId);
    return c.body(new Uint8Array(pdf), 200, {
      'Content-Type': 'application/pdf',
      'Content-Disposition': `attachment; filename="tickets-${bookingId}.pdf"`,
      'Cache-Control': 'private, no-store',
    });
  });
  return app;
}

/**
 * The PDF route's entry in the OpenAPI document: a plain route beside the REST adapter, under the
 * document's own server (`/api`) like the procedures.
 */
export function ticketPdfDocument(): Record<string, unknown> {
  const error = (description: string) => ({
    description,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  });
  return {
    '/bookings/{bookingId}/tickets.pdf': {
      get: {
        operationId: 'tickets-pdf',
        tags: ['tickets'],
        summary: "Download a booking's tickets as a PDF",
        description:
          'One page per ticket: event, venue, the start in the event’s time zone, the attendee, the QR code and ' +
          'the code as text. For the booking’s buyer (or an admin); empty of tickets until the booking is confirmed.',
        security: [{ Authorization: [] }],
        parameters: [
          {
            name: 'bookingId',
            in: 'path',
            required: true,
            schema: { type: 'string', format: 'uuid' },
            example: '8c1f2a9e-5b3d-4e7f-a2c6-1d9e0f4b7a35',
          },
        ],
        responses: {
          200: {
            description: 'OK: the PDF',
            content: { 'application/pdf': { schema: { type: 'string', contentMediaType: 'application/pdf' } } },
          },
          400: error('Bad Request: error.code VALIDATION_FAILED'),
          401: error('Unauthorized: error.code UNAUTHENTICATED, INVALID_TOKEN'),
          404: error('Not Found: error.code BOOKING_NOT_FOUND'),
          500: error('Internal Server Error: error.code INTERNAL'),
          503: error('Service Unavailable: error.code DATABASE_UNAVAILABLE'),
        },
      },
    },
  };
}
