/**
 * PayPal's currency rules, kept here so the simulator models PayPal rather than any one merchant.
 * Amounts are converted with string arithmetic only, never through floating point.
 */

/** Currencies PayPal accepts for payments (developer.paypal.com/api/rest/reference/currency-codes). */
export const PAYPAL_CURRENCIES: ReadonlySet<string> = new Set([
  'AUD',
  'BRL',
  'CAD',
  'CHF',
  'CNY',
  'CZK',
  'DKK',
  'EUR',
  'GBP',
  'HKD',
  'HUF',
  'ILS',
  'JPY',
  'MXN',
  'MYR',
  'NOK',
  'NZD',
  'PHP',
  'PLN',
  'SEK',
  'SGD',
  'THB',
  'TWD',
  'USD',
]);

/** PayPal takes no decimals for these. */
const ZERO_DECIMAL: ReadonlySet<string> = new Set(['HUF', 'JPY', 'TWD']);

export function currencyExponent(currency: string): 0 | 2 {
  return ZERO_DECIMAL.has(currency.toUpperCase()) ? 0 : 2;
}

/** 2500 USD -> "25.00"; 2500 JPY -> "2500". */
export function minorToPayPal(amountMinor: number, currency: string): string {
  if (!Number.isSafeInteger(amountMinor) || amountMinor < 0) {
    throw new RangeError(`amount must be a non-negative whole number of minor units, got ${amountMinor}`);
  }
  const exponent = currencyExponent(currency);
  if (exponent === 0) return String(amountMinor);
  const digits = String(amountMinor).padStart(exponent + 1, '0');
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

const DECIMAL = /^(\d{1,20})(?:\.(\d{1,20}))?$/;

/** "25.00" USD -> 2500; "2500" JPY -> 2500. Decimals beyond the currency's must be zeros. */
export function payPalToMinor(value: string, currency: string): number {
  const match = DECIMAL.exec(value);
  if (!match) throw new RangeError(`not a PayPal amount: "${value}"`);
  const exponent = currencyExponent(currency);
  const whole = match[1] ?? '0';
  const fraction = match[2] ?? '';
  if (/[^0]/.test(fraction.slice(exponent))) {
    throw new RangeError(`"${value}" has more than ${exponent} decimals for ${currency}`);
  }
  const minor = Number(whole + fraction.slice(0, exponent).padEnd(exponent, '0'));
  if (!Number.isSafeInteger(minor)) throw new RangeError(`amount too large: "${value}"`);
  return minor;
}
