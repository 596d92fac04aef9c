import type { ListMyTicketsInput, SetAttendeeInput, Ticket, TicketList } from '@boxoffice/contracts';
import { DomainError } from '@boxoffice/contracts';
import type { EntityManager } from '@boxoffice/db';
import QRCode from 'qrcode';
import type { Clock } from '../../lib/clock.ts';
import { formatLocalTime } from '../../lib/local-time.ts';
import type { AuthUser } from '../auth/tokens.ts';
import { enqueueMails } from '../mail/mail.ts';
import type { TicketSigner } from './ticket-code.ts';

/**
 * Tickets: one per admission of a CONFIRMED booking. The ledger (modules/inventory) calls
 * `deliverTickets` in the transaction that confirms a sale and `voidBookingTickets` in the one that
 * refunds it; cancelling an event calls `withdrawEventTickets`. Everything else here reads tickets
 * or edits the attendee name.
 */

export type TicketsDeps = { em: EntityManager; signer: TicketSigner; clock: Clock };

/**
 * Issues the tickets of bookings just confirmed (one per admission) and asks for their
 * confirmation mail, in the caller's transaction. Idempotent: (booking, seq) is unique.
 */
export async function deliverTickets(em: EntityManager, bookingIds: string[], now: Date): Promise<void> {
  if (bookingIds.length === 0) return;
  await em.execute(
    `INSERT INTO tickets (id, booking_id, event_id, user_id, seq, created_at, updated_at)
     SELECT gen_random_uuid(), b.id, b.event_id, b.user_id, s.seq, ?, ?
       FROM bookings b CROSS JOIN LATERAL generate_series(1, b.quantity) AS s(seq)
      WHERE b.id = ANY(?::uuid[]) AND b.status = 'CONFIRMED'
     ON CONFLICT (booking_id, seq) DO NOTHING`,
    [now, now, `{${bookingIds.join(',')}}`],
  );
  await enqueueMails(
    em,
    bookingIds.map((bookingId) => ({ kind: 'booking-confirmed', bookingId })),
    now,
  );
}

/** A refunded booking's tickets stop admitting anyone (in the refund's transaction). */
export async function voidBookingTickets(em: EntityManager, bookingId: string, now: Date): Promise<number> {
  const rows = await em.execute<{ id: string }[]>(
    `UPDATE tickets SET status = 'void', void_reason = 'refunded', voided_at = ?, updated_at = ?
      WHERE booking_id = ? AND status = 'valid' RETURNING id`,
    [now, now, bookingId],
  );
  return rows.length;
}

/**
 * A cancelled event's tickets are void, and each holder is told once (in the cancellation's
 * transaction). The refunds follow on their own (payments/refunds.service.ts).
 */
export async function withdrawEventTickets(em: EntityManager, eventId: string, now: Date): Promise<number> {
  const rows = await em.execute<{ user_id: string }[]>(
    `UPDATE tickets SET status = 'void', void_reason = 'event_cancelled', voided_at = ?, updated_at = ?
      WHERE event_id = ? AND status = 'valid' RETURNING user_id`,
    [now, now, eventId],
  );
  const holders = [...new Set(rows.map((row) => row.user_id))];
  await enqueueMails(
    em,
    holders.map((userId) => ({ kind: 'event-cancelled', eventId, userId })),
    now,
  );
  return rows.length;
}

export type TicketRow = {
  id: string;
  booking_id: string;
  event_id: string;
  user_id: string;
  seq: number;
  attendee_name: string | null;
  status: 'valid' | 'void';
  void_reason: 'refunded' | 'event_cancelled' | null;
  checked_in_at: Date | null;
  title: string;
  venue_name: string;
  address: string;
  starts_at: Date;
  timezone: string;
};

const TICKET_COLUMNS = `t.id, t.booking_id, t.event_id, t.user_id, t.seq, t.attendee_name, t.status, t.void_reason,
  t.checked_in_at, e.title, e.venue_name, e.address, e.starts_at, e.timezone`;

/** The tickets of one booking, in order. */
export async function ticketRowsOfBooking(em: EntityManager, bookingId: string): Promise<TicketRow[]> {
  return em.execute<TicketRow[]>(
    `SELECT ${TICKET_COLUMNS} FROM tickets t JOIN events e ON e.id = t.event_id WHERE t.booking_id = ? ORDER BY t.seq`,
    [bookingId],
  );
}

export async function toTicket(signer: TicketSigner, row: TicketRow): Promise<Ticket> {
  const code = signer.code({ ticketId: row.id, eventId: row.event_id });
  const startsAt = new Date(row.starts_at);
  return {
    id: row.id,
    bookingId: row.booking_id,
    eventId: row.event_id,
    seq: row.seq,
    attendeeName: row.attendee_name,
    status: row.status,
    voidReason: row.void_reason,
    code,
    qrSvg: await QRCode.toString(code, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }),
    checkedInAt: row.checked_in_at ? new Date(row.checked_in_at).toISOString() : null,
    event: {
      title: row.title,
      venueName: row.venue_name,
      address: row.address,
      startsAt: startsAt.toISOString(),
      timezone: row.timezone,
      startsAtLocal: formatLocalTime(startsAt, row.timezone),
    },
  };
}

/** The caller's tickets (valid and void), newest events first. */
export async function listMyTickets(
  deps: TicketsDeps,
  actor: AuthUser,
  input: ListMyTicketsInput,
): Promise<TicketList> {
  const rows = await deps.em.execute<TicketRow[]>(
    `SELECT ${TICKET_COLUMNS} FROM tickets t JOIN events e ON e.id = t.event_id
      WHERE t.user_id = ? AND (?::uuid IS NULL OR t.event_id = ?::uuid)
      ORDER BY e.starts_at DESC, t.booking_id, t.seq LIMIT 1000`,
    [actor.id, input.eventId ?? null, input.eventId ?? null],
  );
  return { items: await Promise.all(rows.map((row) => toTicket(deps.signer, row))) };
}

/** The booking, if the caller may see its tickets (its buyer, or an admin); otherwise BOOKING_NOT_FOUND. */
export async function requireBookingOf(em: EntityManager, actor: AuthUser, bookingId: string): Promise<void> {
  const [row] = await em.execute<{ user_id: string }[]>('SELECT user_id FROM bookings WHERE id = ?', [bookingId]);
  if (!row || (row.user_id !== actor.id && actor.role !== 'admin'))
    throw new DomainError('BOOKING_NOT_FOUND', 'No such booking', { field: 'bookingId' });
}

/** One booking's tickets, for its buyer (or an admin). Empty until the booking is confirmed. */
export async function bookingTickets(deps: TicketsDeps, actor: AuthUser, bookingId: string): Promise<TicketList> {
  await requireBookingOf(deps.em, actor, bookingId);
  const rows = await ticketRowsOfBooking(deps.em, bookingId);
  return { items: await Promise.all(rows.map((row) => toTicket(deps.signer, row))) };
}

/**
 * The owner names who uses a ticket, until the event starts. Protects: no edit once the event has
 * started or the ticket is void (decided under the ticket's row lock).
 */
export async function setAttendeeName(deps: TicketsDeps, actor: AuthUser, input: SetAttendeeInput): Promise<Ticket> {
  return deps.em.transactional(async (tx) => {
    const [row] = await tx.execute<TicketRow[]>(
      `SELECT ${TICKET_COLUMNS} FROM tickets t JOIN events e ON e.id = t.event_id WHERE t.id = ? FOR UPDATE OF t`,
      [input.ticketId],
    );
    if (!row || row.user_id !== actor.id)
      throw new DomainError('TICKET_NOT_FOUND', 'No such ticket', { field: 'ticketId' });
    if (row.status !== 'valid')
      throw new DomainError('TICKET_NOT_EDITABLE', 'This ticket is void', { reason: row.void_reason });
    const now = deps.clock.now();
    if (new Date(row.starts_at).getTime() <= now.getTime())
      throw new DomainError('TICKET_NOT_EDITABLE', 'The event has started: the attendee can no longer change', {
        reason: 'event_started',
      });
    await tx.execute('UPDATE tickets SET attendee_name = ?, updated_at = ? WHERE id = ?', [
      input.attendeeName,
      now,
      input.ticketId,
    ]);
    return toTicket(deps.signer, { ...row, attendee_name: input.attendeeName });
  });
}
