/**
 * Mail, the public entry point. Every mail Boxoffice sends is asked for here, inside the
 * transaction of the change it is about:
 *
 *   await enqueueMail(em, { kind: 'booking-confirmed', bookingId }, now);
 *
 * That stores one `mail_outbox` row per (kind, subject key) and a `send-mail` job in the caller's
 * transaction: the mail exists exactly when the change commits, asking twice is one mail, and the
 * request never waits for SMTP. The job composes the mail (templates.ts) and sends it through the
 * configured transport (transport.ts), retried with backoff until the SMTP server takes it.
 *
 * Adding a kind of mail (two small edits, nothing else):
 *   1. here: a variant in `mailIntentSchema` (a `kind` literal plus the ids the mail is about);
 *   2. templates.ts: an entry in `templates` under that kind: `key` (what makes the mail one of its
 *      kind: the same key is never sent twice), and `compose` (reads what it needs with the
 *      EntityManager and returns recipient, subject, text, HTML and attachments, or null when there
 *      is no longer anything to send). The `templates` type refuses a kind without a template.
 */
import { randomUUID } from 'node:crypto';
import type { EntityManager, MikroORM } from '@boxoffice/db';
import { z } from 'zod';
import { jobSpec } from '../../jobs/job-queue.ts';
import type { JobHandlers } from '../../jobs/tasks.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../logger.ts';
import { composeMail, type MailContext, mailKey } from './templates.ts';
import type { MailTransport } from './transport.ts';

export const mailIntentSchema = z.discriminatedUnion('kind', [
  /** A booking was confirmed (paid, or free): its tickets, PDF attached. */
  z.object({ kind: z.literal('booking-confirmed'), bookingId: z.uuid() }),
  /** A booking's money went back (admin, PayPal, or the event's cancellation). */
  z.object({ kind: z.literal('booking-refunded'), bookingId: z.uuid() }),
  /** An event a user holds tickets for was cancelled. */
  z.object({ kind: z.literal('event-cancelled'), eventId: z.uuid(), userId: z.uuid() }),
  /** A waitlist offer: tickets are held for the buyer until the hold's expiry; the mail has the payment link. */
  z.object({ kind: z.literal('waitlist-offer'), bookingId: z.uuid() }),
  /** A waiting room's event sold out while the buyer was still in line. */
  z.object({ kind: z.literal('waiting-room-sold-out'), eventId: z.uuid(), userId: z.uuid() }),
]);

export type MailIntent = z.infer<typeof mailIntentSchema>;
export type MailKind = MailIntent['kind'];

/** The job that sends one outbox row. */
export const SEND_MAIL_QUEUE = 'send-mail' as const;

/**
 * Asks for a mail, in the caller's transaction. Returns false when this mail (kind + key) was
 * already asked for: it is sent once, whatever calls it again.
 */
export async function enqueueMail(em: EntityManager, intent: MailIntent, now: Date): Promise<boolean> {
  return (await enqueueMails(em, [intent], now)) === 1;
}

/**
 * Asks for many mails in one statement (a batch of confirmations shares its transaction); returns
 * how many were new. Each as `enqueueMail`: one outbox row per (kind, key), its job beside it.
 */
export async function enqueueMails(em: EntityManager, intents: MailIntent[], now: Date): Promise<number> {
  const rows = new Map<string, { id: string; kind: string; subject_key: string; intent: MailIntent }>();
  for (const intent of intents) {
    const parsed = mailIntentSchema.parse(intent);
    const key = mailKey(parsed);
    rows.set(`${parsed.kind}\u0000${key}`, { id: randomUUID(), kind: parsed.kind, subject_key: key, intent: parsed });
  }
  if (rows.size === 0) return 0;
  const input = [...rows.values()];
  const jobs = input.map(({ id }) => jobSpec(SEND_MAIL_QUEUE, { mailId: id }, { runAt: now, jobKey: id }));
  const inserted = await em.execute<{ id: string }[]>(
    `WITH input AS (
       SELECT * FROM json_to_recordset(?::json) AS r(id uuid, kind text, subject_key text, intent jsonb)
     ), ins AS (
       INSERT INTO mail_outbox (id, kind, subject_key, intent, created_at)
       SELECT id, kind, subject_key, intent, ? FROM input
       ON CONFLICT (kind, subject_key) DO NOTHING
       RETURNING id
     ), jobs AS MATERIALIZED (
       -- a job only for the rows this statement inserted: a mail asked for before has its own
       SELECT count(*) FROM graphile_worker.add_jobs(ARRAY(
         SELECT ROW(s.identifier, s.payload, NULL, s.run_at, s.max_attempts, s.job_key, NULL, NULL)::graphile_worker.job_spec
           FROM json_to_recordset(?::json) AS s(identifier text, payload json, run_at timestamptz, max_attempts int, job_key text)
           JOIN ins ON ins.id = (s.payload->>'mailId')::uuid))
     )
     SELECT ins.id FROM ins, jobs`,
    [JSON.stringify(input), now, JSON.stringify(jobs)],
  );
  return inserted.length;
}

export type MailDeps = {
  orm: MikroORM;
  clock: Clock;
  log: Logger;
  transport: MailTransport;
  from: string;
  context: MailContext;
};

type OutboxRow = { id: string; kind: string; intent: unknown; sent_at: Date | null };

/**
 * The mail job. A mail already sent is done; otherwise it is composed from what the database says
 * now and handed to the transport. A transport failure is recorded and rethrown, so
 * graphile-worker tries again later with backoff; only a send that succeeded marks the row sent.
 */
export function mailJobs(deps: MailDeps): Pick<JobHandlers, 'send-mail'> {
  return {
    'send-mail': async ({ mailId }) => {
      const em = deps.orm.em.fork();
      const [row] = await em.execute<OutboxRow[]>('SELECT id, kind, intent, sent_at FROM mail_outbox WHERE id = ?', [
        mailId,
      ]);
      if (!row || row.sent_at) return;
      if (deps.transport.disabled) {
        // composing is the costly part (a confirmation's PDF): with mail off, skip it
        await em.execute('UPDATE mail_outbox SET sent_at = ?, last_error = ? WHERE id = ?', [
          deps.clock.now(),
          'mail disabled',
          mailId,
        ]);
        return;
      }
      const intent = mailIntentSchema.parse(row.intent);
      const mail = await composeMail(em, intent, deps.context);
      const now = () => deps.clock.now();
      if (!mail) {
        // nothing left to say (the subject is gone): done without sending
        await em.execute('UPDATE mail_outbox SET sent_at = ?, last_error = ? WHERE id = ?', [
          now(),
          'nothing to send',
          mailId,
        ]);
        return;
      }
      const messageId = `<${row.id}@boxoffice.mail>`;
      try {
        await deps.transport.send({ ...mail, from: deps.from, messageId, kind: intent.kind });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        await em.execute('UPDATE mail_outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?', [
          message.slice(0, 500),
          mailId,
        ]);
        deps.log.warn({ mailId, kind: intent.kind, err: message }, 'mail not sent: will try again');
        throw error;
      }
      await em.execute(
        `UPDATE mail_outbox SET sent_at = ?, attempts = attempts + 1, last_error = NULL, recipient = ?, message_id = ?
          WHERE id = ?`,
        [now(), mail.to, messageId, mailId],
      );
    },
  };
}
