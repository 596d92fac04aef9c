import { BOOKING_STATUSES } from '@boxoffice/contracts';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

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
