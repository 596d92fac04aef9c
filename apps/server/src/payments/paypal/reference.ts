import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The opaque reference our return/cancel URLs carry: the booking id plus a MAC, so a forged or
 * altered reference is refused. It is not a credential: it names a booking, it grants nothing.
 */
export function createReferenceSigner(key: string) {
  const mac = (bookingId: string) =>
    createHmac('sha256', key).update(`paypal-ref:${bookingId}`).digest('base64url').slice(0, 32);
  return {
    sign: (bookingId: string) => `${bookingId}.${mac(bookingId)}`,
    /** The booking id when the reference is genuine, else null. */
    verify: (ref: string | undefined | null): string | null => {
      // exactly "<booking id>.<mac>": nothing may ride along after the signature
      const match = /^([0-9a-f-]{36})\.([\w-]{32})$/.exec(ref ?? '');
      const bookingId = match?.[1];
      const given = match?.[2];
      if (!bookingId || !given) return null;
      const expected = Buffer.from(mac(bookingId));
      const actual = Buffer.from(given);
      return expected.length === actual.length && timingSafeEqual(expected, actual) ? bookingId : null;
    },
  };
}
export type ReferenceSigner = ReturnType<typeof createReferenceSigner>;
