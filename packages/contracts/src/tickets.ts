import { z } from 'zod';
import { IdSchema, TimestampSchema } from './common.ts';

/** A ticket is `valid` until its booking is refunded or its event cancelled (`void`). */
export const TICKET_STATUSES = ['valid', 'void'] as const;
export const TicketStatusSchema = z.enum(TICKET_STATUSES);
export const VOID_REASONS = ['refunded', 'event_cancelled'] as const;

export const AttendeeNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(120)
  .meta({ description: 'Who uses the ticket, as printed on it (1-120 characters).' });

export const TicketSchema = z.object({
  id: IdSchema,
  bookingId: IdSchema,
  eventId: IdSchema,
  /** 1..N within the booking. */
  seq: z.number().int(),
  attendeeName: z.string().nullable(),
  status: TicketStatusSchema,
  voidReason: z.enum(VOID_REASONS).nullable(),
  code: z.string().meta({
    description:
      'What the QR code holds: the ticket and event ids signed with Ed25519 (base64url). A scanner verifies it ' +
      'offline with the public key from checkin.export.',
  }),
  qrSvg: z.string().meta({ description: 'The code as a QR code, an SVG document.' }),
  checkedInAt: TimestampSchema.nullable(),
  event: z.object({
    title: z.string(),
    venueName: z.string(),
    address: z.string(),
    startsAt: TimestampSchema,
    timezone: z.string(),
    startsAtLocal: z.string().meta({ description: "The start in the event's own time zone, as printed." }),
  }),
});
export type Ticket = z.infer<typeof TicketSchema>;

export const TicketListSchema = z.object({ items: z.array(TicketSchema) });
export type TicketList = z.infer<typeof TicketListSchema>;

export const ListMyTicketsInputSchema = z.strictObject({
  eventId: IdSchema.optional().meta({ description: 'Only the tickets for this event.' }),
});
export type ListMyTicketsInput = z.infer<typeof ListMyTicketsInputSchema>;

export const SetAttendeeInputSchema = z.strictObject({
  ticketId: IdSchema.meta({ example: '3d5e7f90-1a2b-4c3d-8e4f-5a6b7c8d9e0f' }),
  attendeeName: AttendeeNameSchema.nullable().meta({ description: 'null clears the name.', example: 'Ada Lovelace' }),
});
export type SetAttendeeInput = z.infer<typeof SetAttendeeInputSchema>;
