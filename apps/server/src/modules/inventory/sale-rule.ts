import { DomainError } from '@boxoffice/contracts';

/**
 * The one rule that decides whether tickets can be sold now, and why not. Every move that takes
 * tickets off sale (a hold, a free booking, reviving a paid lapsed hold) asks it, on facts read
 * under the event's row lock, so the answer that refuses is the answer that explains.
 */

/** What the rule looks at: the event row (null when there is none) and the buyer's bookings for it. */
export type SaleFacts = {
  event: {
    status: string;
    startsAt: Date;
    available: number;
    maxPerOrder: number;
    maxPerUser: number;
    /** The on-sale window (null or absent: open from publication until the start). */
    salesStartAt?: Date | null;
    salesEndAt?: Date | null;
    /**
     * The fewest tickets anyone on the event's waitlist is waiting for (null: nobody waits). Tickets
     * that came back go to the waitlist first, as offers: a plain order cannot take them.
     */
    waitlistSmallest?: number | null;
  } | null;
  /** Tickets this buyer already has for this event, held or paid. */
  owned: number;
  /** Whether this buyer has a HELD booking (any event). */
  hasOpenHold: boolean;
  /**
   * The buyer's admission from the event's waiting room, while the room decides who may book:
   * `valid`, `expired` or `none`. Absent when no room is active for the event.
   */
  admission?: 'valid' | 'expired' | 'none';
};

/**
 * `hold`: a new order (every rule). `revive`: tickets for a hold that lapsed while its buyer paid;
 * the order was checked when it was placed, so the on-sale window, the admission, the per-order
 * limit and the one-open-hold rule, which are about placing orders, do not apply again. `offer`:
 * a hold placed for the first fitting buyer on the waitlist; the offer is their admission, and the
 * tickets are the waitlist's.
 */
export type SaleKind = 'hold' | 'revive' | 'offer';

export type SaleRefusal =
  | { reason: 'EVENT_NOT_FOUND' }
  | { reason: 'EVENT_NOT_ON_SALE'; status: string }
  | { reason: 'EVENT_PAST' }
  | { reason: 'SALES_NOT_OPEN'; opensAt: Date }
  | { reason: 'SALES_ENDED'; endedAt: Date }
  | { reason: 'ADMISSION_REQUIRED' }
  | { reason: 'ADMISSION_EXPIRED' }
  | { reason: 'PER_ORDER'; max: number }
  | { reason: 'HOLD_ALREADY_OPEN' }
  | { reason: 'SOLD_OUT'; available: number }
  | { reason: 'PER_USER'; max: number; owned: number };

export type SaleReason = SaleRefusal['reason'];

/** The order in which refusals are reported (docs/architecture.md, "Rules when booking"). */
export const REFUSAL_ORDER: readonly SaleReason[] = [
  'EVENT_NOT_FOUND',
  'EVENT_NOT_ON_SALE',
  'EVENT_PAST',
  'SALES_NOT_OPEN',
  'SALES_ENDED',
  'ADMISSION_REQUIRED',
  'ADMISSION_EXPIRED',
  'PER_ORDER',
  'HOLD_ALREADY_OPEN',
  'SOLD_OUT',
  'PER_USER',
];

/** Null when `quantity` tickets may be sold now; otherwise the first rule, in order, that refuses. */
export function judgeSale(facts: SaleFacts, quantity: number, now: Date, kind: SaleKind = 'hold'): SaleRefusal | null {
  const { event } = facts;
  if (!event) return { reason: 'EVENT_NOT_FOUND' };
  if (event.status !== 'published') return { reason: 'EVENT_NOT_ON_SALE', status: event.status };
  if (event.startsAt.getTime() <= now.getTime()) return { reason: 'EVENT_PAST' };
  if (kind !== 'revive') {
    if (event.salesStartAt && now.getTime() < event.salesStartAt.getTime())
      return { reason: 'SALES_NOT_OPEN', opensAt: event.salesStartAt };
    if (event.salesEndAt && now.getTime() >= event.salesEndAt.getTime())
      return { reason: 'SALES_ENDED', endedAt: event.salesEndAt };
  }
  if (kind === 'hold' && facts.admission === 'none') return { reason: 'ADMISSION_REQUIRED' };
  if (kind === 'hold' && facts.admission === 'expired') return { reason: 'ADMISSION_EXPIRED' };
  if (kind !== 'revive' && quantity > event.maxPerOrder) return { reason: 'PER_ORDER', max: event.maxPerOrder };
  if (kind !== 'revive' && facts.hasOpenHold) return { reason: 'HOLD_ALREADY_OPEN' };
  if (quantity > event.available) return { reason: 'SOLD_OUT', available: event.available };
  // tickets that came back are offered to the waitlist first
  if (kind === 'hold' && event.waitlistSmallest != null && event.waitlistSmallest <= event.available)
    return { reason: 'SOLD_OUT', available: 0 };
  if (facts.owned + quantity > event.maxPerUser)
    return { reason: 'PER_USER', max: event.maxPerUser, owned: facts.owned };
  return null;
}

/** The buyer-facing error for a refusal, with the codes of packages/contracts. */
export function refusalError(refusal: SaleRefusal): DomainError {
  switch (refusal.reason) {
    case 'EVENT_NOT_FOUND':
      return new DomainError('EVENT_NOT_FOUND', 'No such event', { field: 'eventId' });
    case 'EVENT_NOT_ON_SALE':
      return new DomainError('EVENT_NOT_ON_SALE', `Tickets for this event are not on sale (${refusal.status})`);
    case 'EVENT_PAST':
      return new DomainError('EVENT_PAST', 'This event has already started');
    case 'SALES_NOT_OPEN':
      return new DomainError('SALES_NOT_OPEN', `Tickets go on sale at ${refusal.opensAt.toISOString()}`, {
        opensAt: refusal.opensAt.toISOString(),
      });
    case 'SALES_ENDED':
      return new DomainError('SALES_ENDED', `Ticket sales ended at ${refusal.endedAt.toISOString()}`, {
        endedAt: refusal.endedAt.toISOString(),
      });
    case 'ADMISSION_REQUIRED':
      return new DomainError(
        'ADMISSION_REQUIRED',
        'This sale runs through a waiting room: join it (queue.join) and book once admitted',
      );
    case 'ADMISSION_EXPIRED':
      return new DomainError('ADMISSION_EXPIRED', 'Your admission from the waiting room has expired');
    case 'PER_ORDER':
      return new DomainError('LIMIT_EXCEEDED', `At most ${refusal.max} tickets per order`, {
        limit: 'per_order',
        max: refusal.max,
      });
    case 'HOLD_ALREADY_OPEN':
      return new DomainError('HOLD_ALREADY_OPEN', 'You already have tickets on hold: pay for or cancel them first');
    case 'SOLD_OUT':
      return new DomainError('SOLD_OUT', refusal.available === 0 ? 'Sold out' : `Only ${refusal.available} left`, {
        available: refusal.available,
      });
    case 'PER_USER':
      return new DomainError('LIMIT_EXCEEDED', `At most ${refusal.max} tickets per person for this event`, {
        limit: 'per_user',
        max: refusal.max,
        owned: refusal.owned,
      });
  }
}
