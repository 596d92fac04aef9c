import { z } from 'zod';
import {
  BodyNumber,
  CurrencyCodeSchema,
  CursorSchema,
  IdSchema,
  PageLimitSchema,
  pageOf,
  TimestampSchema,
} from './common.ts';

/** The booking states (docs/architecture.md, "Booking states"); the database entity uses this list too. */
export const BOOKING_STATUSES = ['HELD', 'CONFIRMED', 'CANCELLED', 'EXPIRED', 'REFUNDED'] as const;
export const BookingStatusSchema = z.enum(BOOKING_STATUSES);
export type BookingStatus = z.infer<typeof BookingStatusSchema>;

export const IdempotencyKeySchema = z
  .string()
  .min(8)
  .max(128)
  .regex(/^[\w.:-]+$/, 'letters, digits, and . _ : - only')
  .meta({
    description: 'Retrying with the same key returns the first response. REST: the Idempotency-Key header.',
    example: '5f0c5c1e-7d4a-4b7e-9a61-3c2d8e9f1a20',
  });

/** Tickets one booking may hold: the sale rule's bounds (`INVALID_QUANTITY` outside them). */
export const BOOKING_QUANTITY_MAX = 1000;

/**
 * Only these fields are accepted: a price, status or user sent by a client is rejected, never used.
 * `quantity` is range-checked against the event's limits by the service (INVALID_QUANTITY / LIMIT_EXCEEDED).
 */
export const CreateBookingInputSchema = z.strictObject({
  eventId: IdSchema.meta({ example: '0b7d6c7e-3f0a-4c55-9d1e-6a2b4f8e9c10' }),
  // the bounds are documented here but checked by the service, which answers INVALID_QUANTITY
  quantity: BodyNumber(z.number())
    .optional()
    .meta({
      description: `Tickets to hold, 1-${BOOKING_QUANTITY_MAX} (default 1; the event's limits apply).`,
      type: 'integer',
      minimum: 1,
      maximum: BOOKING_QUANTITY_MAX,
      example: 2,
    }),
  idempotencyKey: IdempotencyKeySchema.optional(),
});
export type CreateBookingInput = z.infer<typeof CreateBookingInputSchema>;

export const BookingSchema = z.object({
  id: IdSchema,
  eventId: IdSchema,
  userId: IdSchema,
  quantity: z.number().int(),
  unitPriceMinor: z.number().int(),
  totalMinor: z.number().int(),
  currency: CurrencyCodeSchema,
  status: BookingStatusSchema,
  holdExpiresAt: TimestampSchema,
  createdAt: TimestampSchema,
  confirmedAt: TimestampSchema.nullable(),
  cancelledAt: TimestampSchema.nullable(),
  expiredAt: TimestampSchema.nullable(),
  refundedAt: TimestampSchema.nullable(),
  paymentUrl: z
    .string()
    .nullable()
    .meta({
      description:
        'While the hold is open: where the buyer goes to pay. A link of this server; following it creates the PayPal ' +
        'order and redirects (303) to PayPal. API clients that want the PayPal link itself call startPayment.',
    }),
});
export type Booking = z.infer<typeof BookingSchema>;

export const BookingIdInputSchema = z.strictObject({
  bookingId: IdSchema.meta({ example: '8c1f2a9e-5b3d-4e7f-a2c6-1d9e0f4b7a35' }),
});

/** The PayPal order of a hold, created on first request (a repeat returns the same order). */
export const PaymentStartSchema = z.object({
  bookingId: IdSchema,
  paypalOrderId: z.string(),
  approvalUrl: z.string().meta({ description: "PayPal's page where the buyer approves the payment." }),
  holdExpiresAt: TimestampSchema,
});
export type PaymentStart = z.infer<typeof PaymentStartSchema>;

export const ListMyBookingsInputSchema = z.strictObject({
  status: BookingStatusSchema.optional(),
  cursor: CursorSchema,
  limit: PageLimitSchema,
});
export type ListMyBookingsInput = z.infer<typeof ListMyBookingsInputSchema>;

export const ListBookingsInputSchema = ListMyBookingsInputSchema.extend({
  eventId: IdSchema.optional(),
  userId: IdSchema.optional(),
});
export type ListBookingsInput = z.infer<typeof ListBookingsInputSchema>;

export const BookingPageSchema = pageOf(BookingSchema);
export type BookingPage = z.infer<typeof BookingPageSchema>;
