import type { Booking as BookingDto } from '@boxoffice/contracts';
import type { Booking } from '@boxoffice/db';

const iso = (date: Date | null | undefined) => (date ? new Date(date).toISOString() : null);

/**
 * The one mapping from a booking row to what the API returns. `paymentUrl` is where the buyer goes
 * to pay (the PaymentPort's link), shown while the hold is open.
 */
export function toBookingDto(booking: Booking, paymentUrl: string | null = null): BookingDto {
  return {
    id: booking.id,
    eventId: booking.eventId,
    userId: booking.userId,
    quantity: booking.quantity,
    unitPriceMinor: booking.unitPriceMinor,
    totalMinor: booking.totalMinor,
    currency: booking.currency.trim(),
    status: booking.status,
    holdExpiresAt: new Date(booking.holdExpiresAt).toISOString(),
    createdAt: new Date(booking.createdAt).toISOString(),
    confirmedAt: iso(booking.confirmedAt),
    cancelledAt: iso(booking.cancelledAt),
    expiredAt: iso(booking.expiredAt),
    refundedAt: iso(booking.refundedAt),
    paymentUrl: booking.status === 'HELD' ? paymentUrl : null,
  };
}
