import { sql as accounts } from './0001-accounts.ts';
import { sql as events } from './0002-events.ts';
import { sql as bookings } from './0003-bookings.ts';
import { sql as payments } from './0004-payments.ts';
import { sql as bookingTransitions } from './0005-booking-transitions.ts';
import { sql as refundDue } from './0006-refund-due.ts';
import { sql as ledger } from './0007-ledger.ts';
import { sql as rateLimits } from './0008-rate-limits.ts';
import { sql as jobQueue } from './0009-job-queue.ts';
import { sql as webhooksRefunds } from './0010-webhooks-refunds.ts';
import { sql as tickets } from './0011-tickets.ts';
import { sql as onsale } from './0012-onsale.ts';

export type Migration = { name: string; sql: string };

/** Applied in this order, each once, each in its own transaction. Never edit a shipped one: add another. */
export const migrations: Migration[] = [
  { name: '0001-accounts', sql: accounts },
  { name: '0002-events', sql: events },
  { name: '0003-bookings', sql: bookings },
  { name: '0004-payments', sql: payments },
  { name: '0005-booking-transitions', sql: bookingTransitions },
  { name: '0006-refund-due', sql: refundDue },
  { name: '0007-ledger', sql: ledger },
  { name: '0008-rate-limits', sql: rateLimits },
  { name: '0009-job-queue', sql: jobQueue },
  { name: '0010-webhooks-refunds', sql: webhooksRefunds },
  { name: '0011-tickets', sql: tickets },
  { name: '0012-onsale', sql: onsale },
];
