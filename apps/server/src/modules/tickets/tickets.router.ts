import {
  BookingIdInputSchema,
  ListMyTicketsInputSchema,
  SetAttendeeInputSchema,
  TicketListSchema,
  TicketSchema,
} from '@boxoffice/contracts';
import type { Context } from '../../trpc/context.ts';
import { protectedProcedure, router } from '../../trpc/init.ts';
import { bookingTickets, listMyTickets, setAttendeeName, type TicketsDeps } from './tickets.service.ts';

const tags = ['tickets'];

function ticketsDeps(ctx: Context): TicketsDeps {
  return { em: ctx.em, signer: ctx.deps.tickets.signer, clock: ctx.deps.clock };
}

export const ticketsRouter = router({
  listMine: protectedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/tickets',
        tags,
        protect: true,
        summary: 'My tickets',
        description: 'Every ticket of the caller (void ones included), each with its code and QR code (SVG).',
      },
    })
    .input(ListMyTicketsInputSchema)
    .output(TicketListSchema)
    .query(({ ctx, input }) => listMyTickets(ticketsDeps(ctx), ctx.user, input)),

  forBooking: protectedProcedure
    .meta({
      errors: ['BOOKING_NOT_FOUND'],
      openapi: {
        method: 'GET',
        path: '/bookings/{bookingId}/tickets',
        tags,
        protect: true,
        summary: "A booking's tickets",
        description:
          'One ticket per admission once the booking is CONFIRMED (empty before). The PDF of the same tickets: ' +
          '`GET /api/bookings/{bookingId}/tickets.pdf`.',
      },
    })
    .input(BookingIdInputSchema)
    .output(TicketListSchema)
    .query(({ ctx, input }) => bookingTickets(ticketsDeps(ctx), ctx.user, input.bookingId)),

  setAttendee: protectedProcedure
    .meta({
      errors: ['TICKET_NOT_FOUND', 'TICKET_NOT_EDITABLE'],
      openapi: {
        method: 'PATCH',
        path: '/tickets/{ticketId}',
        tags,
        protect: true,
        summary: "Name a ticket's attendee",
        description: 'The owner may set or clear the attendee name until the event starts.',
      },
    })
    .input(SetAttendeeInputSchema)
    .output(TicketSchema)
    .mutation(({ ctx, input }) => setAttendeeName(ticketsDeps(ctx), ctx.user, input)),
});
