import { z } from 'zod';
import { BookingSchema, BookingStatusSchema } from './bookings.ts';
import { IdSchema, pageOf, TimestampSchema } from './common.ts';
import { EventSchema } from './events.ts';

/** Money that moved at the provider, as our payments ledger records it: one entry per capture or refund. */
export const PaymentRecordSchema = z.object({
  kind: z.enum(['capture', 'refund']),
  provider: z.literal('paypal'),
  providerRef: z.string().meta({ description: "PayPal's capture or refund id." }),
  status: z.string().meta({ description: 'As PayPal reported it: COMPLETED, PENDING, DECLINED, FAILED, ...' }),
  amountMinor: z.number().int(),
  currency: z.string(),
  recordedAt: TimestampSchema,
});
export type PaymentRecord = z.infer<typeof PaymentRecordSchema>;

export const REFUND_STATUSES = ['pending', 'completed', 'failed'] as const;
export const RefundStatusSchema = z.enum(REFUND_STATUSES);
export type RefundStatus = z.infer<typeof RefundStatusSchema>;

/** Who asked for the money to go back: an admin, the event's cancellation, or PayPal (dashboard, chargeback). */
export const RefundSourceSchema = z.enum(['admin', 'event_cancelled', 'paypal']);
export type RefundSource = z.infer<typeof RefundSourceSchema>;

export const RefundSchema = z.object({
  bookingId: IdSchema,
  status: RefundStatusSchema.meta({
    description:
      '`failed`: PayPal refused the last attempt; it is tried again (with a new request id) until it succeeds.',
  }),
  source: RefundSourceSchema,
  reason: z.string(),
  amountMinor: z.number().int().meta({ description: 'The whole captured amount (refunds are full).' }),
  currency: z.string(),
  attempts: z.number().int().meta({ description: 'Refunds PayPal answered for this booking, failed ones included.' }),
  lastError: z.string().nullable(),
  requestedAt: TimestampSchema,
  completedAt: TimestampSchema.nullable(),
});
export type Refund = z.infer<typeof RefundSchema>;

export const RefundBookingInputSchema = z.strictObject({
  bookingId: IdSchema,
  reason: z.string().trim().min(1).max(500).meta({ description: 'Why the money goes back (kept with the refund).' }),
});
export type RefundBookingInput = z.infer<typeof RefundBookingInputSchema>;

export const BookingRefundSchema = z.object({ booking: BookingSchema, refund: RefundSchema });
export type BookingRefund = z.infer<typeof BookingRefundSchema>;

/** A booking as the admin list shows it: with the money on our books and its refund, if any. */
export const AdminBookingSchema = BookingSchema.extend({
  payments: z.array(PaymentRecordSchema),
  refund: RefundSchema.nullable(),
});
export type AdminBooking = z.infer<typeof AdminBookingSchema>;

export const AdminBookingPageSchema = pageOf(AdminBookingSchema);
export type AdminBookingPage = z.infer<typeof AdminBookingPageSchema>;

/** How far an event's refunds have come: every refund of a booking of this event, by state. */
export const RefundProgressSchema = z.object({
  eventId: IdSchema,
  refunds: z.number().int(),
  refunded: z.number().int(),
  pending: z.number().int(),
  failed: z.number().int(),
});
export type RefundProgress = z.infer<typeof RefundProgressSchema>;

/** `events.cancel` answers with the event and how many refunds the cancellation scheduled. */
export const EventCancellationSchema = EventSchema.extend({
  refundsDue: z.number().int().meta({
    description: 'Confirmed bookings whose refund this call scheduled (0 when the event was already cancelled).',
  }),
});
export type EventCancellation = z.infer<typeof EventCancellationSchema>;

export const MISMATCH_KINDS = [
  'captured_not_confirmed',
  'confirmed_without_capture',
  'refunded_at_paypal_not_here',
  'refunded_here_not_at_paypal',
  'capture_not_recorded',
  'order_missing',
] as const;
export const MismatchKindSchema = z.enum(MISMATCH_KINDS);
export type MismatchKind = z.infer<typeof MismatchKindSchema>;

export const ReconcileInputSchema = z.strictObject({
  sinceHours: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 400)
    .default(24 * 7)
    .meta({ description: 'Bookings created or changed within this many hours (default 7 days).' }),
  repair: z
    .boolean()
    .default(false)
    .meta({ description: 'Settle each mismatch through the same paths as the webhooks.' }),
});
export type ReconcileInput = z.infer<typeof ReconcileInputSchema>;

export const MismatchSchema = z.object({
  kind: MismatchKindSchema,
  bookingId: IdSchema,
  bookingStatus: BookingStatusSchema,
  orderId: z.string().nullable(),
  detail: z.string(),
  repaired: z.boolean().nullable().meta({ description: 'null without repair; false when it needs a person.' }),
  after: z.string().nullable().meta({ description: 'What the repair left, e.g. the booking status.' }),
});
export type Mismatch = z.infer<typeof MismatchSchema>;

export const ReconcileReportSchema = z.object({
  since: TimestampSchema,
  checked: z.number().int(),
  unreachable: z.number().int().meta({ description: 'Bookings PayPal could not be asked about this time.' }),
  mismatches: z.array(MismatchSchema),
});
export type ReconcileReport = z.infer<typeof ReconcileReportSchema>;
