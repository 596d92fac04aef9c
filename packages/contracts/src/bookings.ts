import { z } from 'zod';
import { BodyNumber, CursorSchema, IdSchema, PageLimitSchema, pageOf, TimestampSchema } from './common.ts';

/** The booking states (docs/architecture.md, "Booking states"); the database entity uses this list too. */
export const BOOKING_STATUSES = ['HELD', 'CONFIRMED', 'CANCELLED', 'EXPIRED', 'REFUNDED'] as const;
export const BookingStatusSchema = z.enum(BOOKING_STATUSES);
export type BookingStatus = z.infer<typeof BookingStatusSchema>;

export const IdempotencyKeySchema = z
  .string()
  .min(8)
  .max(128)
  .regex(/^[\w.:-]+$/, 'letters, digits, and . _ : - only')
  .meta({ description: 'Retrying with the same key returns the first response. REST: the Idempotency-Key header.' });

/**
 * Only these fields are accepted: a price, status or user sent by a client is rejected, never used.
 * `quantity` is range-checked against the event's limits by the service (INVALID_QUANTITY / LIMIT_EXCEEDED).
 */
export const CreateBookingInputSchema = z.strictObject({
  eventId: IdSchema,
  quantity: BodyNumber(z.number()).optional().meta({ description: 'Tickets to hold (default 1).' }),
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
  currency: z.string(),
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
    .meta({ description: 'Where the buyer approves the payment (PayPal), while the hold is open.' }),
});
export type Booking = z.infer<typeof BookingSchema>;

export const BookingIdInputSchema = z.object({ bookingId: IdSchema });

export const ListMyBookingsInputSchema = z.object({
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
