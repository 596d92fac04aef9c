import { SUPPORTED_CURRENCIES } from '@boxoffice/contracts';

/**
 * PayPal's currency rules and amount format, shared with the server (packages/contracts/src/money.ts),
 * so the simulator and the client agree to the digit on what PayPal accepts.
 */
export {
  currencyExponent,
  decimalToMinor as payPalToMinor,
  minorToDecimal as minorToPayPal,
} from '@boxoffice/contracts';

/** Currencies PayPal accepts for payments (developer.paypal.com/api/rest/reference/currency-codes). */
export const PAYPAL_CURRENCIES: ReadonlySet<string> = new Set(SUPPORTED_CURRENCIES);
