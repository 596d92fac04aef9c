import type {
  CheckinCounts,
  CheckinEventList,
  CheckinExport,
  ScanInput,
  ScanResult,
  StaffInput,
  StaffList,
  SyncInput,
  SyncResult,
} from '@boxoffice/contracts';
import { DomainError } from '@boxoffice/contracts';
import type { EntityManager } from '@boxoffice/db';
import type { Clock } from '../../lib/clock.ts';
import { formatLocalTime } from '../../lib/local-time.ts';
import type { AuthUser } from '../auth/tokens.ts';
import { type TicketSigner, verifyTicketCode } from '../tickets/ticket-code.ts';

/**
 * Check-in at the door. Admins, and users an admin made staff of an event (table event_staff),
 * scan its tickets: a ticket is admitted once, the first time, with the time and the scanner
 * recorded on its row. Scanners that worked offline upload their scans later; the earliest scan
 * of a ticket wins.
 */

export type CheckinDeps = { em: EntityManager; signer: TicketSigner; clock: Clock };

const forbidden = () => new DomainError('FORBIDDEN', 'Only door staff of this event and admins may do this');

/** Whether the user is door staff of any event (the check-in procedures' first gate). */
export async function isDoorStaffAnywhere(em: EntityManager, userId: string): Promise<boolean> {
  const rows = await em.execute('SELECT 1 FROM event_staff WHERE user_id = ? LIMIT 1', [userId]);
  return rows.length > 0;
}

async function requireEvent(em: EntityManager, eventId: string): Promise<void> {
  const [event] = await em.execute('SELECT 1 FROM events WHERE id = ?', [eventId]);
  if (!event) throw new DomainError('EVENT_NOT_FOUND', 'No such event', { field: 'eventId' });
}

async function requireDoorAccess(em: EntityManager, actor: AuthUser, eventId: string): Promise<void> {
  if (actor.role === 'admin') return requireEvent(em, eventId);
  const rows = await em.execute('SELECT 1 FROM event_staff WHERE event_id = ? AND user_id = ?', [eventId, actor.id]);
  if (rows.length === 0) throw forbidden();
}

type TicketState = {
  id: string;
  event_id: string;
  status: 'valid' | 'void';
  attendee_name: string | null;
  checked_in_at: Date | string | null;
};

async function ticketState(em: EntityManager, ticketId: string): Promise<TicketState | null> {
  const [row] = await em.execute<TicketState[]>(
    'SELECT id, event_id, status, attendee_name, checked_in_at FROM tickets WHERE id = ?',
    [ticketId],
  );
  return row ?? null;
}

/**
 * Admits a valid ticket not admitted before; returns the admission time, or null when it was
 * already admitted (or is void). Protects: one admission per ticket, whatever races it: only the
 * one UPDATE that still finds checked_in_at NULL admits.
 */
async function admitOnce(em: EntityManager, ticketId: string, at: Date, scannerId: string): Promise<Date | null> {
  const [row] = await em.execute<{ checked_in_at: Date }[]>(
    `UPDATE tickets SET checked_in_at = ?, checked_in_by = ?, check_in_source = 'online', updated_at = ?
      WHERE id = ? AND status = 'valid' AND checked_in_at IS NULL RETURNING checked_in_at`,
    [at, scannerId, at, ticketId],
  );
  return row ? new Date(row.checked_in_at) : null;
}

/**
 * An offline scan: it becomes the ticket's admission if it is the earliest so far. Protects: the
 * recorded admission is the first scan by scan time (one conditional UPDATE decides).
 */
async function admitIfEarliest(
  em: EntityManager,
  ticketId: string,
  at: Date,
  scannerId: string,
  now: Date,
): Promise<boolean> {
  const rows = await em.execute(
    `UPDATE tickets SET checked_in_at = ?, checked_in_by = ?, check_in_source = 'offline', updated_at = ?
      WHERE id = ? AND status = 'valid' AND (checked_in_at IS NULL OR checked_in_at > ?) RETURNING id`,
    [at, scannerId, now, ticketId, at],
  );
  return rows.length > 0;
}

type Verdict = { ticket: TicketState } | { answer: ScanResult };

const answer = (
  result: ScanResult['result'],
  ticket?: TicketState | null,
  checkedInAt?: Date | string | null,
): ScanResult => ({
  result,
  ticketId: ticket?.id ?? null,
  attendeeName: ticket?.attendee_name ?? null,
  // raw statements hand timestamps back as the driver parsed them
  checkedInAt: checkedInAt ? new Date(checkedInAt).toISOString() : null,
});

/** What a code is, before admitting: forged, another event's, unknown, void, or a ticket to admit. */
async function judgeCode(deps: CheckinDeps, eventId: string, code: string): Promise<Verdict> {
  const claims = verifyTicketCode(code.trim(), deps.signer.publicKey);
  if (!claims) return { answer: answer('INVALID_CODE') };
  const ticket = await ticketState(deps.em, claims.ticketId);
  // signed by us but naming no ticket of ours (e.g. another deployment's database)
  if (!ticket || ticket.event_id !== claims.eventId) return { answer: answer('INVALID_CODE') };
  if (ticket.event_id !== eventId) return { answer: answer('WRONG_EVENT', ticket) };
  if (ticket.status === 'void') return { answer: answer('VOID', ticket) };
  return { ticket };
}

/** One scan at the door, live. */
export async function scanTicket(deps: CheckinDeps, actor: AuthUser, input: ScanInput): Promise<ScanResult> {
  await requireDoorAccess(deps.em, actor, input.eventId);
  const verdict = await judgeCode(deps, input.eventId, input.code);
  if ('answer' in verdict) return verdict.answer;
  const admitted = await admitOnce(deps.em, verdict.ticket.id, deps.clock.now(), actor.id);
  if (admitted) return answer('ADMITTED', verdict.ticket, admitted);
  const now = await ticketState(deps.em, verdict.ticket.id);
  if (!now || now.status === 'void') return answer('VOID', verdict.ticket);
  return answer('ALREADY_ADMITTED', now, now.checked_in_at);
}

/**
 * Scans made offline. Handled earliest first, each as `admitIfEarliest`: a ticket's admission ends
 * up as its first scan by scan time, whether that was online or in this upload. A scan time in the
 * future counts as now. Answers in the order of the input, with the event's counts after.
 */
export async function syncScans(deps: CheckinDeps, actor: AuthUser, input: SyncInput): Promise<SyncResult> {
  await requireDoorAccess(deps.em, actor, input.eventId);
  const now = deps.clock.now();
  const order = input.scans
    .map((scan, index) => ({ ...scan, index, at: new Date(Math.min(Date.parse(scan.scannedAt), now.getTime())) }))
    .sort((a, b) => a.at.getTime() - b.at.getTime() || a.index - b.index);
  const results: ScanResult[] = new Array(input.scans.length);
  for (const scan of order) {
    const verdict = await judgeCode(deps, input.eventId, scan.code);
    if ('answer' in verdict) {
      results[scan.index] = verdict.answer;
      continue;
    }
    const first = await admitIfEarliest(deps.em, verdict.ticket.id, scan.at, actor.id, now);
    const after = await ticketState(deps.em, verdict.ticket.id);
    if (!after || after.status === 'void') results[scan.index] = answer('VOID', verdict.ticket);
    else results[scan.index] = answer(first ? 'ADMITTED' : 'ALREADY_ADMITTED', after, after.checked_in_at);
  }
  return { results, counts: await countsOf(deps.em, input.eventId) };
}

async function countsOf(em: EntityManager, eventId: string): Promise<CheckinCounts> {
  const [row] = await em.execute<{ sold: number; admitted: number; void: number }[]>(
    `SELECT count(*) FILTER (WHERE status = 'valid')::int AS sold,
            count(*) FILTER (WHERE status = 'valid' AND checked_in_at IS NOT NULL)::int AS admitted,
            count(*) FILTER (WHERE status = 'void')::int AS void
       FROM tickets WHERE event_id = ?`,
    [eventId],
  );
  const sold = row?.sold ?? 0;
  const admitted = row?.admitted ?? 0;
  return { eventId, sold, admitted, toCome: sold - admitted, void: row?.void ?? 0 };
}

/** Sold, admitted and still to come, for the door. */
export async function checkinCounts(deps: CheckinDeps, actor: AuthUser, eventId: string): Promise<CheckinCounts> {
  await requireDoorAccess(deps.em, actor, eventId);
  return countsOf(deps.em, eventId);
}

/** What a scanner needs to work offline: the public key and every ticket's state. */
export async function exportForScanner(deps: CheckinDeps, actor: AuthUser, eventId: string): Promise<CheckinExport> {
  await requireDoorAccess(deps.em, actor, eventId);
  const rows = await deps.em.execute<Omit<TicketState, 'event_id'>[]>(
    'SELECT id, status, attendee_name, checked_in_at FROM tickets WHERE event_id = ? ORDER BY id',
    [eventId],
  );
  return {
    eventId,
    generatedAt: deps.clock.now().toISOString(),
    publicKey: deps.signer.publicKeyBase64,
    tickets: rows.map((row) => ({
      ticketId: row.id,
      status: row.status,
      attendeeName: row.attendee_name,
      checkedInAt: row.checked_in_at ? new Date(row.checked_in_at).toISOString() : null,
    })),
  };
}

/** The events the caller may check in: staff their own, admins every event not a draft, from yesterday on. */
export async function doorEvents(deps: CheckinDeps, actor: AuthUser): Promise<CheckinEventList> {
  const since = new Date(deps.clock.now().getTime() - 24 * 3_600_000);
  const rows = await deps.em.execute<
    { id: string; title: string; venue_name: string; starts_at: Date; timezone: string }[]
  >(
    `SELECT e.id, e.title, e.venue_name, e.starts_at, e.timezone FROM events e
      WHERE e.status = 'published' AND e.starts_at >= ?
        AND (? OR EXISTS (SELECT 1 FROM event_staff s WHERE s.event_id = e.id AND s.user_id = ?))
      ORDER BY e.starts_at, e.id LIMIT 200`,
    [since, actor.role === 'admin', actor.id],
  );
  return {
    items: rows.map((row) => ({
      id: row.id,
      title: row.title,
      venueName: row.venue_name,
      startsAt: new Date(row.starts_at).toISOString(),
      startsAtLocal: formatLocalTime(new Date(row.starts_at), row.timezone),
    })),
  };
}

export async function listStaff(em: EntityManager, eventId: string): Promise<StaffList> {
  await requireEvent(em, eventId);
  const rows = await em.execute<{ user_id: string; email: string; username: string; granted_at: Date }[]>(
    `SELECT s.user_id, u.email, u.username, s.granted_at FROM event_staff s JOIN users u ON u.id = s.user_id
      WHERE s.event_id = ? ORDER BY s.granted_at, s.user_id`,
    [eventId],
  );
  return {
    items: rows.map((row) => ({
      userId: row.user_id,
      email: row.email,
      username: row.username,
      grantedAt: new Date(row.granted_at).toISOString(),
    })),
  };
}

/** An admin makes a user door staff of an event (granting twice is one grant). */
export async function grantStaff(em: EntityManager, admin: AuthUser, input: StaffInput, now: Date): Promise<StaffList> {
  const [user] = await em.execute('SELECT 1 FROM users WHERE id = ?', [input.userId]);
  if (!user) throw new DomainError('USER_NOT_FOUND', 'No such user', { field: 'userId' });
  await requireEvent(em, input.eventId);
  await em.execute(
    `INSERT INTO event_staff (event_id, user_id, granted_by, granted_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (event_id, user_id) DO NOTHING`,
    [input.eventId, input.userId, admin.id, now],
  );
  return listStaff(em, input.eventId);
}

export async function revokeStaff(em: EntityManager, input: StaffInput): Promise<StaffList> {
  await em.execute('DELETE FROM event_staff WHERE event_id = ? AND user_id = ?', [input.eventId, input.userId]);
  return listStaff(em, input.eventId);
}
