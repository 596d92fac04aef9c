import { describe, expect, it } from 'vitest';
import { judgeSale, REFUSAL_ORDER, refusalError, type SaleFacts, type SaleReason } from './sale-rule.ts';

const now = new Date('2027-01-01T12:00:00Z');

/** Facts that pass every rule for a 2-ticket order. */
const passing = (): SaleFacts => ({
  event: {
    status: 'published',
    startsAt: new Date('2027-02-01T19:00:00Z'),
    available: 5,
    maxPerOrder: 4,
    maxPerUser: 6,
  },
  owned: 2,
  hasOpenHold: false,
});

/** Facts that break exactly the rules named. */
function breaking(reasons: SaleReason[]): SaleFacts {
  const facts = passing();
  const event = facts.event!;
  for (const reason of reasons) {
    if (reason === 'EVENT_NOT_FOUND') facts.event = null;
    if (reason === 'EVENT_NOT_ON_SALE') event.status = 'draft';
    if (reason === 'EVENT_PAST') event.startsAt = new Date(now.getTime() - 1);
    if (reason === 'SALES_NOT_OPEN') event.salesStartAt = new Date(now.getTime() + 1);
    if (reason === 'SALES_ENDED') event.salesEndAt = now;
    if (reason === 'ADMISSION_REQUIRED') facts.admission = 'none';
    // a buyer has no admission or an expired one, not both: "none" is the earlier rule
    if (reason === 'ADMISSION_EXPIRED' && facts.admission !== 'none') facts.admission = 'expired';
    if (reason === 'PER_ORDER') event.maxPerOrder = 1;
    if (reason === 'HOLD_ALREADY_OPEN') facts.hasOpenHold = true;
    if (reason === 'SOLD_OUT') event.available = 1;
    if (reason === 'PER_USER') facts.owned = 5;
  }
  return facts;
}

describe('the sale rule', () => {
  it('allows a sale that breaks no rule', () => {
    expect(judgeSale(passing(), 2, now)).toBeNull();
    // exactly at each limit is still allowed
    const edge = passing();
    edge.event!.available = 2;
    edge.owned = 4;
    expect(judgeSale(edge, 2, now)).toBeNull();
  });

  it.each(REFUSAL_ORDER)('refuses with %s when only that rule is broken', (reason) => {
    expect(judgeSale(breaking([reason]), 2, now)?.reason).toBe(reason);
  });

  it('reports the first broken rule in the documented order, whichever others are broken too', () => {
    for (let i = 0; i < REFUSAL_ORDER.length; i++) {
      // every rule from position i on is broken: the one at i is reported
      const broken = REFUSAL_ORDER.slice(i);
      expect(judgeSale(breaking(broken), 2, now)?.reason).toBe(REFUSAL_ORDER[i]);
    }
  });

  it('an event that starts this very moment has started', () => {
    const facts = passing();
    facts.event!.startsAt = now;
    expect(judgeSale(facts, 1, now)?.reason).toBe('EVENT_PAST');
  });

  it('reviving a paid lapsed hold skips the order rules but keeps availability and the per-user limit', () => {
    expect(judgeSale(breaking(['PER_ORDER', 'HOLD_ALREADY_OPEN']), 2, now, 'revive')).toBeNull();
    expect(judgeSale(breaking(['PER_ORDER', 'SOLD_OUT']), 2, now, 'revive')?.reason).toBe('SOLD_OUT');
    expect(judgeSale(breaking(['HOLD_ALREADY_OPEN', 'PER_USER']), 2, now, 'revive')?.reason).toBe('PER_USER');
    expect(judgeSale(breaking(['EVENT_PAST']), 2, now, 'revive')?.reason).toBe('EVENT_PAST');
  });

  it('maps each refusal to its error code and details', () => {
    const codes = REFUSAL_ORDER.map((reason) => {
      const refusal = judgeSale(breaking([reason]), 2, now);
      return refusal && refusalError(refusal).code;
    });
    expect(codes).toEqual([
      'EVENT_NOT_FOUND',
      'EVENT_NOT_ON_SALE',
      'EVENT_PAST',
      'SALES_NOT_OPEN',
      'SALES_ENDED',
      'ADMISSION_REQUIRED',
      'ADMISSION_EXPIRED',
      'LIMIT_EXCEEDED',
      'HOLD_ALREADY_OPEN',
      'SOLD_OUT',
      'LIMIT_EXCEEDED',
    ]);
    const perUser = refusalError({ reason: 'PER_USER', max: 6, owned: 5 });
    expect(perUser.details).toEqual({ limit: 'per_user', max: 6, owned: 5 });
    expect(refusalError({ reason: 'SOLD_OUT', available: 1 }).message).toBe('Only 1 left');
    expect(refusalError({ reason: 'SOLD_OUT', available: 0 }).message).toBe('Sold out');
  });
});
