import { describe, expect, it } from 'vitest';
import { judgeSale, REFUSAL_ORDER, refusalError, type SaleFacts } from '../inventory/sale-rule.ts';

// The on-sale's rules in the one sale rule: the window, the admission, the waitlist's first claim.
const now = new Date('2031-01-01T12:00:00Z');
const event = {
  status: 'published',
  startsAt: new Date('2031-02-01T20:00:00Z'),
  available: 5,
  maxPerOrder: 4,
  maxPerUser: 4,
  salesStartAt: new Date('2031-01-01T11:00:00Z'),
  salesEndAt: new Date('2031-01-20T00:00:00Z'),
  waitlistSmallest: null as number | null,
};
const facts = (over: Partial<SaleFacts> = {}, eventOver: Partial<typeof event> = {}): SaleFacts => ({
  event: { ...event, ...eventOver },
  owned: 0,
  hasOpenHold: false,
  ...over,
});

describe('the sale rule on an on-sale', () => {
  it('refuses before the opening with the opening time, and from the end', () => {
    const opensAt = new Date('2031-01-01T12:00:01Z');
    expect(judgeSale(facts({}, { salesStartAt: opensAt }), 1, now)).toEqual({ reason: 'SALES_NOT_OPEN', opensAt });
    expect(refusalError({ reason: 'SALES_NOT_OPEN', opensAt })).toMatchObject({
      code: 'SALES_NOT_OPEN',
      status: 403,
      details: { opensAt: opensAt.toISOString() },
    });
    expect(judgeSale(facts({}, { salesEndAt: now }), 1, now)?.reason).toBe('SALES_ENDED');
    expect(judgeSale(facts(), 1, now)).toBeNull();
  });

  it('while a waiting room decides: no admission and an expired one each have their own code', () => {
    expect(judgeSale(facts({ admission: 'none' }), 1, now)?.reason).toBe('ADMISSION_REQUIRED');
    expect(judgeSale(facts({ admission: 'expired' }), 1, now)?.reason).toBe('ADMISSION_EXPIRED');
    expect(judgeSale(facts({ admission: 'valid' }), 1, now)).toBeNull();
    expect(refusalError({ reason: 'ADMISSION_REQUIRED' }).status).toBe(403);
    expect(refusalError({ reason: 'ADMISSION_EXPIRED' }).code).toBe('ADMISSION_EXPIRED');
    // a waitlist offer is its own admission
    expect(judgeSale(facts({ admission: 'none' }), 1, now, 'offer')).toBeNull();
  });

  it('a paid lapsed hold is revived whatever the window and admission (the order was placed in it)', () => {
    expect(judgeSale(facts({ admission: 'none' }, { salesEndAt: now }), 1, now, 'revive')).toBeNull();
  });

  it('tickets the waitlist can take are not for plain orders, only for its offers', () => {
    expect(judgeSale(facts({}, { waitlistSmallest: 2 }), 1, now)).toEqual({ reason: 'SOLD_OUT', available: 0 });
    expect(judgeSale(facts({}, { waitlistSmallest: 6 }), 1, now)).toBeNull();
    expect(judgeSale(facts({}, { waitlistSmallest: 2 }), 2, now, 'offer')).toBeNull();
  });

  it('reports the on-sale refusals after the event checks and before the order checks', () => {
    const at = (reason: string) => REFUSAL_ORDER.indexOf(reason as never);
    expect(at('EVENT_PAST')).toBeLessThan(at('SALES_NOT_OPEN'));
    expect(at('SALES_ENDED')).toBeLessThan(at('ADMISSION_REQUIRED'));
    expect(at('ADMISSION_EXPIRED')).toBeLessThan(at('PER_ORDER'));
    // the first failing rule wins: an event past its start says so, not that sales ended
    expect(judgeSale(facts({ admission: 'none' }, { startsAt: now, salesEndAt: now }), 9, now)?.reason).toBe(
      'EVENT_PAST',
    );
    expect(judgeSale(facts({ admission: 'none' }), 9, now)?.reason).toBe('ADMISSION_REQUIRED');
  });
});
