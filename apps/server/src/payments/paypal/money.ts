import { SUPPORTED_CURRENCIES } from '@boxoffice/contracts';

/**
 * PayPal's names for the conversions between the integer minor units Boxoffice stores and the
 * decimal strings PayPal's REST API speaks (packages/contracts/src/money.ts holds them).
 */
export {
  currencyExponent,
  decimalToMinor as payPalToMinor,
  MoneyFormatError,
  minorToDecimal as minorToPayPal,
} from '@boxoffice/contracts';

/** Currencies PayPal accepts for payments (developer.paypal.com/api/rest/reference/currency-codes). */
export const PAYPAL_CURRENCIES: ReadonlySet<string> = new Set(SUPPORTED_CURRENCIES);
