import {
  AdminBookingPageSchema,
  BookingIdInputSchema,
  BookingPageSchema,
  BookingRefundSchema,
  BookingSchema,
  CreateBookingInputSchema,
  ListBookingsInputSchema,
  ListMyBookingsInputSchema,
  PaymentStartSchema,
  ReconcileInputSchema,
  ReconcileReportSchema,
  RefundBookingInputSchema,
} from '@boxoffice/contracts';
import type { Context } from '../../trpc/context.ts';
import { adminProcedure, protectedProcedure, router } from '../../trpc/init.ts';
import {
  type BookingDeps,
  cancelBooking,
  createBooking,
  getBooking,
  listAllBookings,
  listBookings,
  reconcileBookings,
  refundBooking,
  startBookingPayment,
} from './bookings.service.ts';

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
      ],
      openapi: {
        method: 'POST',
        path: '/events/{eventId}/book',
        tags,
        protect: true,
        summary: 'Hold tickets',
        description:
          'Body `{ "quantity": N }`, or `?ticket_quantity=N` as the earlier service took it. ' +
          'Send an `Idempotency-Key` header to make retries safe. A hold answers with `paymentUrl`, where the buyer ' +
          'goes to pay (it creates the PayPal order and redirects there). A free event (price 0) is confirmed at ' +
          'once, with no payment step.',
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

  startPayment: protectedProcedure
    .meta({
      errors: ['BOOKING_NOT_FOUND', 'BOOKING_NOT_PAYABLE', 'PAYMENT_PROVIDER_ERROR', 'RATE_LIMITED'],
      openapi: {
        method: 'POST',
        path: '/bookings/{bookingId}/payment',
        tags,
        protect: true,
        summary: 'The PayPal order of a hold',
        description:
          "Creates the hold's PayPal order on the first call and returns the same order after that, with the " +
          'PayPal page where the buyer approves it (what following `paymentUrl` does, minus the redirect). ' +
          'Owner only. A buyer may create a limited number of payment orders per hour.',
      },
    })
    .input(BookingIdInputSchema)
    .output(PaymentStartSchema)
    .mutation(({ ctx, input }) => startBookingPayment(bookingDeps(ctx), ctx.user, input.bookingId)),

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
      openapi: {
        method: 'GET',
        path: '/admin/bookings',
        tags,
        protect: true,
        summary: 'All bookings (admin)',
        description:
          'Every status, newest first, by event, buyer and status; each booking with the captures and refunds ' +
          'on our books and its refund request, if any.',
      },
    })
    .input(ListBookingsInputSchema)
    .output(AdminBookingPageSchema)
    .query(({ ctx, input }) => listAllBookings(bookingDeps(ctx), input)),

  refund: adminProcedure
    .meta({
      errors: ['BOOKING_NOT_FOUND', 'BOOKING_NOT_REFUNDABLE', 'BOOKING_ALREADY_REFUNDED'],
      openapi: {
        method: 'POST',
        path: '/bookings/{bookingId}/refund',
        tags,
        protect: true,
        summary: 'Refund a confirmed booking in full (admin)',
        description:
          'Refunds the whole capture at PayPal (never more than was captured), then the booking is REFUNDED and ' +
          'its tickets go back on sale if the event is still ahead. Asking twice makes one refund. If PayPal ' +
          'refuses the refund, `refund.status` is `failed` and it is tried again until it succeeds.',
      },
    })
    .input(RefundBookingInputSchema)
    .output(BookingRefundSchema)
    .mutation(({ ctx, input }) => refundBooking(bookingDeps(ctx), ctx.user, input)),

  reconcile: adminProcedure
    .meta({
      errors: [],
      openapi: {
        method: 'POST',
        path: '/admin/reconcile',
        tags,
        protect: true,
        summary: 'Compare bookings and payments with PayPal (admin)',
        description:
          'Reads the PayPal order of every booking changed in the window and reports each mismatch ' +
          '(captured but not confirmed, confirmed without a capture, refunded at PayPal but not here, ...); ' +
          'with `repair`, settles them through the same paths as the webhooks.',
      },
    })
    .input(ReconcileInputSchema)
    .output(ReconcileReportSchema)
    .mutation(({ ctx, input }) => reconcileBookings(bookingDeps(ctx), input)),
});
