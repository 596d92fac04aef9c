import { z } from 'zod';
import { IdSchema, TimestampSchema } from './common.ts';
import { TicketStatusSchema } from './tickets.ts';

/**
 * What a scan says: `ADMITTED` the first time, `ALREADY_ADMITTED` after that (with the first
 * scan's time), `VOID` for a refunded or cancelled ticket, `WRONG_EVENT` for another event's ticket,
 * `INVALID_CODE` for anything not signed by Boxoffice.
 */
export const SCAN_RESULTS = ['ADMITTED', 'ALREADY_ADMITTED', 'VOID', 'WRONG_EVENT', 'INVALID_CODE'] as const;
export const ScanResultKindSchema = z.enum(SCAN_RESULTS);
export type ScanResultKind = z.infer<typeof ScanResultKindSchema>;

export const TicketCodeSchema = z.string().min(1).max(512).meta({
  description: 'The text of the QR code.',
  example:
    'AQt9bH4_CkxVnR5qK0-OjhBmOJ1xCRv7Q-6x0a7T9qbW5aZ3m2y8iY2o9ZfM4t0rV7yL8bQ3xE1gS6kN0pD5cU2wA9hJ4lR8zT1vX6nF3sB7eK0qW5iO2uG9',
});

const EventIdSchema = IdSchema.meta({ example: '0b7d6c7e-3f0a-4c55-9d1e-6a2b4f8e9c10' });
const UserIdSchema = IdSchema.meta({ example: '6a1c9e2b-4d3f-4b8a-9c7e-2f1d0e3b5a47' });

export const ScanInputSchema = z.strictObject({ eventId: EventIdSchema, code: TicketCodeSchema });
export type ScanInput = z.infer<typeof ScanInputSchema>;

export const ScanResultSchema = z.object({
  result: ScanResultKindSchema,
  ticketId: IdSchema.nullable(),
  attendeeName: z.string().nullable(),
  /** The first admission (this scan's for ADMITTED). */
  checkedInAt: TimestampSchema.nullable(),
});
export type ScanResult = z.infer<typeof ScanResultSchema>;

export const CheckinCountsSchema = z.object({
  eventId: IdSchema,
  /** Valid tickets (sold and not refunded). */
  sold: z.number().int(),
  admitted: z.number().int(),
  /** Valid tickets not yet admitted: sold - admitted. */
  toCome: z.number().int(),
  void: z.number().int(),
});
export type CheckinCounts = z.infer<typeof CheckinCountsSchema>;

export const CheckinExportSchema = z.object({
  eventId: IdSchema,
  generatedAt: TimestampSchema,
  publicKey: z.string().meta({
    description:
      'The Ed25519 public key (SPKI DER, base64) that verifies codes: a code is base64url of 33 payload bytes ' +
      '(version 1, ticket id, event id: 16 bytes each) followed by the 64-byte signature of those 33 bytes.',
  }),
  tickets: z.array(
    z.object({
      ticketId: IdSchema,
      status: TicketStatusSchema,
      attendeeName: z.string().nullable(),
      checkedInAt: TimestampSchema.nullable(),
    }),
  ),
});
export type CheckinExport = z.infer<typeof CheckinExportSchema>;

export const SYNC_SCANS_MAX = 1000;

export const SyncInputSchema = z.strictObject({
  eventId: EventIdSchema,
  scans: z
    .array(z.strictObject({ code: TicketCodeSchema, scannedAt: TimestampSchema }))
    .min(1)
    .max(SYNC_SCANS_MAX)
    .meta({ description: `Scans made offline (at most ${SYNC_SCANS_MAX}); the earliest scan of a ticket wins.` }),
});
export type SyncInput = z.infer<typeof SyncInputSchema>;

export const SyncResultSchema = z.object({
  results: z.array(ScanResultSchema),
  counts: CheckinCountsSchema,
});
export type SyncResult = z.infer<typeof SyncResultSchema>;

export const StaffInputSchema = z.strictObject({ eventId: EventIdSchema, userId: UserIdSchema });
export type StaffInput = z.infer<typeof StaffInputSchema>;

export const StaffListSchema = z.object({
  items: z.array(z.object({ userId: IdSchema, email: z.string(), username: z.string(), grantedAt: TimestampSchema })),
});
export type StaffList = z.infer<typeof StaffListSchema>;

/** The events a door scanner may pick: those the caller is staff for (an admin: every published one). */
export const CheckinEventListSchema = z.object({
  items: z.array(
    z.object({
      id: IdSchema,
      title: z.string(),
      venueName: z.string(),
      startsAt: TimestampSchema,
      startsAtLocal: z.string(),
    }),
  ),
});
export type CheckinEventList = z.infer<typeof CheckinEventListSchema>;
