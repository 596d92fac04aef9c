import { z } from 'zod';
import { BOOKING_QUANTITY_MAX } from './bookings.ts';
import { BodyNumber, CursorSchema, IdSchema, PageLimitSchema, pageOf, TimestampSchema } from './common.ts';

const EventIdSchema = IdSchema.meta({ example: '0b7d6c7e-3f0a-4c55-9d1e-6a2b4f8e9c10' });

export const JoinWaitlistInputSchema = z.strictObject({
  eventId: EventIdSchema,
  quantity: BodyNumber(z.number().int().min(1).max(BOOKING_QUANTITY_MAX)).default(1).meta({
    description: "Tickets wanted; an offer is made only for all of them (the event's per-order limit applies).",
    example: 2,
  }),
});
export type JoinWaitlistInput = z.infer<typeof JoinWaitlistInputSchema>;

export const WaitlistEventInputSchema = z.strictObject({ eventId: EventIdSchema });
export type WaitlistEventInput = z.infer<typeof WaitlistEventInputSchema>;

/**
 * `waiting` in line; `offered`: tickets are held for this buyer until `offer.expiresAt`;
 * `booked`: the offer was paid; `passed`: the offer lapsed unpaid and went to the next in line;
 * `left`: the buyer left the list.
 */
export const WAITLIST_STATUSES = ['waiting', 'offered', 'booked', 'passed', 'left'] as const;
export const WaitlistStatusSchema = z.enum(WAITLIST_STATUSES);
export type WaitlistStatus = z.infer<typeof WaitlistStatusSchema>;

export const WaitlistOfferSchema = z.object({
  bookingId: IdSchema,
  expiresAt: TimestampSchema,
  paymentUrl: z.string().nullable().meta({ description: 'Where to pay for the held tickets (no credential in it).' }),
});

export const WaitlistEntrySchema = z.object({
  eventId: IdSchema,
  quantity: z.number().int(),
  status: WaitlistStatusSchema,
  position: z.number().int().nullable().meta({ description: 'Place in line while waiting, 1 = next.' }),
  joinedAt: TimestampSchema,
  offer: WaitlistOfferSchema.nullable(),
});
export type WaitlistEntry = z.infer<typeof WaitlistEntrySchema>;

export const WaitlistStateInputSchema = z.strictObject({
  eventId: EventIdSchema,
  status: WaitlistStatusSchema.optional(),
  limit: PageLimitSchema,
  cursor: CursorSchema,
});
export type WaitlistStateInput = z.infer<typeof WaitlistStateInputSchema>;

export const AdminWaitlistEntrySchema = z.object({
  userId: IdSchema,
  quantity: z.number().int(),
  status: WaitlistStatusSchema,
  joinedAt: TimestampSchema,
  offeredAt: TimestampSchema.nullable(),
  offerExpiresAt: TimestampSchema.nullable(),
  bookingId: IdSchema.nullable(),
});

export const WaitlistStateSchema = z.object({
  eventId: IdSchema,
  counts: z.object({
    waiting: z.number().int(),
    offered: z.number().int(),
    booked: z.number().int(),
    passed: z.number().int(),
    left: z.number().int(),
  }),
  entries: pageOf(AdminWaitlistEntrySchema),
});
export type WaitlistState = z.infer<typeof WaitlistStateSchema>;
