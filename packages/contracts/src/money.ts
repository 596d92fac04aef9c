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
