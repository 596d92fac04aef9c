/**
 * Conversions between the integer minor units Boxoffice stores and the decimal strings PayPal's
 * REST API speaks. Pure string arithmetic: amounts never pass through floating point.
 */

import { currencyExponent, SUPPORTED_CURRENCIES } from '@boxoffice/contracts';

/** Currencies PayPal accepts for payments (developer.paypal.com/api/rest/reference/currency-codes). */
export const PAYPAL_CURRENCIES: ReadonlySet<string> = new Set(SUPPORTED_CURRENCIES);

export { currencyExponent };

export class MoneyFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MoneyFormatError';
  }
}

/** 2500 USD -> "25.00"; 2500 JPY -> "2500". Rejects fractions, negatives and unsafe integers. */
export function minorToPayPal(amountMinor: number, currency: string): string {
  if (!Number.isSafeInteger(amountMinor) || amountMinor < 0) {
    throw new MoneyFormatError(`amount must be a non-negative whole number of minor units, got ${amountMinor}`);
  }
  const exponent = currencyExponent(currency);
  if (exponent === 0) return String(amountMinor);
  const digits = String(amountMinor).padStart(exponent + 1, '0');
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

const DECIMAL = /^(\d{1,20})(?:\.(\d{1,20}))?$/;

/**
 * "25.00" USD -> 2500; "2500" JPY -> 2500. Extra decimals are accepted only when they are zeros
 * ("25.5" and "25.500" are 2550), so a value that is not a whole number of minor units throws.
 */
export function payPalToMinor(value: string, currency: string): number {
  const match = DECIMAL.exec(value);
  if (!match) throw new MoneyFormatError(`not a PayPal amount: "${value}"`);
  const exponent = currencyExponent(currency);
  const whole = match[1] ?? '0';
  const fraction = match[2] ?? '';
  if (/[^0]/.test(fraction.slice(exponent))) {
    throw new MoneyFormatError(`"${value}" has more than ${exponent} decimals for ${currency}`);
  }
  const minor = Number(whole + fraction.slice(0, exponent).padEnd(exponent, '0'));
  if (!Number.isSafeInteger(minor)) throw new MoneyFormatError(`amount too large: "${value}"`);
  return minor;
}
