import { z } from 'zod';
import { BodyNumber, CursorSchema, IdSchema, PageLimitSchema, pageOf, TimestampSchema } from './common.ts';

/** How long before `salesStartAt` a waiting room lets buyers in, at most (a week). */
export const WAITING_ROOM_LEAD_MINUTES_MAX = 10_080;
export const WAITING_ROOM_LEAD_MINUTES_DEFAULT = 60;

const EventIdSchema = IdSchema.meta({ example: '0b7d6c7e-3f0a-4c55-9d1e-6a2b4f8e9c10' });

export const QueueEventInputSchema = z.strictObject({ eventId: EventIdSchema });
export type QueueEventInput = z.infer<typeof QueueEventInputSchema>;

/**
 * Where a buyer stands in an event's waiting room:
 * - `not_joined`: the room exists, this buyer is not in it (join from `joinOpensAt`);
 * - `waiting`: in line; before the opening (`drawn` false) nobody has a position yet, since
 *   everyone who joins before it is put in a random order at the opening;
 * - `admitted`: may book until `admission.expiresAt`;
 * - `booked`: booked with the admission; `expired`: did not book in time;
 * - `sold_out`: the event sold out while this buyer waited (see the waitlist);
 * - `closed`: the sale ended or the event was cancelled while this buyer waited.
 */
export const QUEUE_STATES = ['not_joined', 'waiting', 'admitted', 'booked', 'expired', 'sold_out', 'closed'] as const;
export const QueueStateSchema = z.enum(QUEUE_STATES);
export type QueueState = z.infer<typeof QueueStateSchema>;

export const AdmissionSchema = z.object({
  admittedAt: TimestampSchema,
  expiresAt: TimestampSchema.meta({ description: 'Book before this instant; after it the admission is gone.' }),
});

export const QueueStatusSchema = z.object({
  eventId: IdSchema,
  state: QueueStateSchema,
  salesStartAt: TimestampSchema,
  joinOpensAt: TimestampSchema,
  drawn: z.boolean().meta({ description: 'Whether the opening draw has put the early joiners in their order.' }),
  position: z
    .number()
    .int()
    .nullable()
    .meta({ description: 'Place in line, 1 = next to be admitted; null before the draw or once out of line.' }),
  ahead: z.number().int().nullable().meta({ description: 'Buyers still waiting ahead of this one.' }),
  estimatedWaitSeconds: z
    .number()
    .int()
    .nullable()
    .meta({ description: 'At the current admission rate; null while there is no rate to go by.' }),
  admission: AdmissionSchema.nullable(),
});
export type QueueStatus = z.infer<typeof QueueStatusSchema>;

export const ConfigureWaitingRoomInputSchema = z.strictObject({
  eventId: EventIdSchema,
  enabled: z.boolean().meta({ description: 'false removes the room (only before the opening draw).' }),
  leadMinutes: BodyNumber(z.number().int().min(0).max(WAITING_ROOM_LEAD_MINUTES_MAX))
    .default(WAITING_ROOM_LEAD_MINUTES_DEFAULT)
    .meta({ description: 'How long before salesStartAt buyers may join.', example: 60 }),
});
export type ConfigureWaitingRoomInput = z.infer<typeof ConfigureWaitingRoomInputSchema>;

export const WaitingRoomSchema = z.object({
  eventId: IdSchema,
  enabled: z.boolean(),
  leadMinutes: z.number().int().nullable(),
  salesStartAt: TimestampSchema.nullable(),
  joinOpensAt: TimestampSchema.nullable(),
});
export type WaitingRoom = z.infer<typeof WaitingRoomSchema>;

export const QUEUE_ENTRY_STATUSES = ['waiting', 'admitted', 'booked', 'expired', 'sold_out', 'closed'] as const;
export const QueueEntryStatusSchema = z.enum(QUEUE_ENTRY_STATUSES);

export const WaitingRoomStateInputSchema = z.strictObject({
  eventId: EventIdSchema,
  status: QueueEntryStatusSchema.optional(),
  limit: PageLimitSchema,
  cursor: CursorSchema,
});
export type WaitingRoomStateInput = z.infer<typeof WaitingRoomStateInputSchema>;

export const QueueEntrySchema = z.object({
  userId: IdSchema,
  status: QueueEntryStatusSchema,
  ticketNo: z.number().int().nullable().meta({ description: 'Place in the admission order (after the draw).' }),
  admissionNo: z.number().int().nullable().meta({ description: 'Order in which buyers were admitted.' }),
  joinedAt: TimestampSchema,
  admittedAt: TimestampSchema.nullable(),
  admissionExpiresAt: TimestampSchema.nullable(),
});
export type QueueEntry = z.infer<typeof QueueEntrySchema>;

export const WaitingRoomStateSchema = z.object({
  eventId: IdSchema,
  drawnAt: TimestampSchema.nullable(),
  finishedAt: TimestampSchema.nullable(),
  finishReason: z.enum(['sold_out', 'sales_ended', 'event_closed']).nullable(),
  admissionRatePerMinute: z.number(),
  counts: z.object({
    waiting: z.number().int(),
    admitted: z.number().int(),
    booked: z.number().int(),
    expired: z.number().int(),
    soldOut: z.number().int(),
    closed: z.number().int(),
  }),
  entries: pageOf(QueueEntrySchema),
});
export type WaitingRoomState = z.infer<typeof WaitingRoomStateSchema>;
