import {
  BookingIdInputSchema,
  BookingPageSchema,
  BookingSchema,
  CreateBookingInputSchema,
  ListBookingsInputSchema,
  ListMyBookingsInputSchema,
} from '@boxoffice/contracts';
import type { Context } from '../../trpc/context.ts';
import { adminProcedure, protectedProcedure, router } from '../../trpc/init.ts';
import { type BookingDeps, cancelBooking, createBooking, getBooking, listBookings } from './bookings.service.ts';

const tags = ['bookings'];

function bookingDeps(ctx: Context): BookingDeps {
  return { ...ctx.deps.bookings, em: ctx.em };
}

export const bookingsRouter = router({
  create: protectedProcedure
    .meta({
      errors: [
        'INVALID_QUANTITY',
        'EVENT_NOT_FOUND',
        'EVENT_NOT_ON_SALE',
        'HOLD_ALREADY_OPEN',
        'SOLD_OUT',
        'LIMIT_EXCEEDED',
        'IDEMPOTENCY_IN_FLIGHT',
        'EVENT_PAST',
        'IDEMPOTENCY_KEY_REUSED',
        'PAYMENT_PROVIDER_ERROR',
        'RATE_LIMITED',
      ],
      openapi: {
        method: 'POST',
        path: '/events/{eventId}/book',
        tags,
        protect: true,
        summary: 'Hold tickets and start the payment',
        description:
          'Body `{ "quantity": N }`, or `?ticket_quantity=N` as the earlier service took it. ' +
          'Send an `Idempotency-Key` header to make retries safe. A free event (price 0) is confirmed at once, ' +
          'with no payment step.',
      },
    })
    .input(CreateBookingInputSchema)
    .output(BookingSchema)
    .mutation(({ ctx, input }) => createBooking(bookingDeps(ctx), ctx.user, input, ctx.idempotencyKey)),

  get: protectedProcedure
    .meta({
      errors: ['BOOKING_NOT_FOUND'],
      openapi: { method: 'GET', path: '/bookings/{bookingId}', tags, protect: true, summary: 'One booking' },
    })
    .input(BookingIdInputSchema)
    .output(BookingSchema)
    .query(({ ctx, input }) => getBooking(bookingDeps(ctx), ctx.user, input.bookingId)),

  listMine: protectedProcedure
    .meta({
      errors: ['INVALID_CURSOR'],
      openapi: { method: 'GET', path: '/bookings', tags, protect: true, summary: 'My bookings, newest first' },
    })
    .input(ListMyBookingsInputSchema)
    .output(BookingPageSchema)
    .query(({ ctx, input }) => listBookings(bookingDeps(ctx), { ...input, userId: ctx.user.id })),

  cancel: protectedProcedure
    .meta({
      errors: ['BOOKING_NOT_FOUND', 'BOOKING_NOT_CANCELLABLE'],
      openapi: { method: 'POST', path: '/bookings/{bookingId}/cancel', tags, protect: true, summary: 'Release a hold' },
    })
    .input(BookingIdInputSchema)
    .output(BookingSchema)
    .mutation(({ ctx, input }) => cancelBooking(bookingDeps(ctx), ctx.user, input.bookingId)),

  list: adminProcedure
    .meta({
      errors: ['INVALID_CURSOR'],
      openapi: { method: 'GET', path: '/admin/bookings', tags, protect: true, summary: 'All bookings (admin)' },
    })
    .input(ListBookingsInputSchema)
    .output(BookingPageSchema)
    .query(({ ctx, input }) => listBookings(bookingDeps(ctx), input)),
});
