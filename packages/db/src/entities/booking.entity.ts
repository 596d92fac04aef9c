import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

export const BOOKING_STATUSES = ['HELD', 'CONFIRMED', 'CANCELLED', 'EXPIRED', 'REFUNDED'] as const;

export const Booking = defineEntity({
  name: 'Booking',
  tableName: 'bookings',
  properties: {
    id: p.uuid().primary(),
    userId: p.uuid(),
    eventId: p.uuid(),
    quantity: p.integer(),
    unitPriceMinor: p.integer(),
    totalMinor: p.integer(),
    currency: p.string(),
    status: p.enum(BOOKING_STATUSES),
    holdExpiresAt: p.datetime(),
    paypalOrderId: p.string().nullable(),
    paypalCaptureId: p.string().nullable(),
    paymentUrl: p.string().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
    confirmedAt: p.datetime().nullable(),
    cancelledAt: p.datetime().nullable(),
    expiredAt: p.datetime().nullable(),
    refundedAt: p.datetime().nullable(),
    refundDueAt: p.datetime().nullable(),
  },
});
export type Booking = InferEntity<typeof Booking>;

export const Payment = defineEntity({
  name: 'Payment',
  tableName: 'payments',
  properties: {
    id: p.uuid().primary(),
    bookingId: p.uuid(),
    provider: p.enum(['paypal'] as const),
    kind: p.enum(['capture', 'refund'] as const),
    providerRef: p.string(),
    status: p.string(),
    amountMinor: p.integer(),
    currency: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type Payment = InferEntity<typeof Payment>;
