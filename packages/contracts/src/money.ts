/** Currencies Boxoffice sells in: the ones PayPal accepts for payments. */
export const SUPPORTED_CURRENCIES = [
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
] as const;
export type Currency = (typeof SUPPORTED_CURRENCIES)[number];

/** PayPal takes no decimals for these, so their "minor unit" is the whole unit. */
const ZERO_DECIMAL_CURRENCIES: ReadonlySet<string> = new Set(['JPY', 'HUF', 'TWD']);

/** Digits after the decimal point in amounts of this currency, everywhere in Boxoffice. */
export function currencyExponent(currency: string): 0 | 2 {
  return ZERO_DECIMAL_CURRENCIES.has(currency.toUpperCase()) ? 0 : 2;
}

/** The largest order total, in minor units: fits the integer columns and PayPal's amount field. */
export const MAX_ORDER_TOTAL_MINOR = 1_000_000_000;

/** An amount that is not a whole, non-negative number of the currency's minor units. */
export class MoneyFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MoneyFormatError';
  }
}

/**
 * 2500 USD -> "25.00"; 2500 JPY -> "2500" (the decimal strings PayPal's REST API speaks). Rejects
 * fractions, negatives and unsafe integers. Pure string arithmetic: never through floating point.
 */
export function minorToDecimal(amountMinor: number, currency: string): string {
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
export function decimalToMinor(value: string, currency: string): number {
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
