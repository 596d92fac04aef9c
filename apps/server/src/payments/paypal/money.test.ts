import { describe, expect, it } from 'vitest';
import { currencyExponent, MoneyFormatError, minorToPayPal, payPalToMinor } from './money.ts';

describe('PayPal money strings', () => {
  it.each([
    [2500, 'USD', '25.00'],
    [5, 'EUR', '0.05'],
    [0, 'GBP', '0.00'],
    [123456789, 'usd', '1234567.89'],
    [2500, 'JPY', '2500'],
    [990, 'HUF', '990'],
    [100, 'TWD', '100'],
  ])('%i %s <-> "%s"', (minor, currency, value) => {
    expect(minorToPayPal(minor, currency)).toBe(value);
    expect(payPalToMinor(value, currency)).toBe(minor);
  });

  it('reads values PayPal may shorten or pad', () => {
    expect(payPalToMinor('25', 'USD')).toBe(2500);
    expect(payPalToMinor('25.5', 'USD')).toBe(2550);
    expect(payPalToMinor('25.500', 'USD')).toBe(2550);
    expect(payPalToMinor('2500.00', 'JPY')).toBe(2500);
  });

  it.each([
    ['25.001', 'USD'],
    ['2500.5', 'JPY'],
    ['-1.00', 'USD'],
    ['1e3', 'USD'],
    ['', 'USD'],
    ['12,50', 'EUR'],
    ['99999999999999999999', 'USD'],
  ])('refuses "%s" %s', (value, currency) => {
    expect(() => payPalToMinor(value, currency)).toThrow(MoneyFormatError);
  });

  it.each([-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1])('refuses %d minor units', (minor) => {
    expect(() => minorToPayPal(minor, 'USD')).toThrow(MoneyFormatError);
  });

  it('knows the zero-decimal currencies', () => {
    expect(['JPY', 'HUF', 'TWD', 'USD', 'EUR'].map(currencyExponent)).toEqual([0, 0, 0, 2, 2]);
  });
});
