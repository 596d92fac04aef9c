import { z } from 'zod';
import { type Currency, SUPPORTED_CURRENCIES } from './money.ts';

export const IdSchema = z.uuid();

/**
 * The instants the API takes. Outside them PostgreSQL refuses the value (year 0) or the driver
 * cannot write it (past 9999 a JavaScript date serialises as `+010000-...`), so a request would
 * fail in the database instead of being refused as invalid.
 */
export const TIMESTAMP_MIN = '1970-01-01T00:00:00.000Z';
export const TIMESTAMP_MAX = '9999-12-31T23:59:59.999Z';
export function isWithinTimestampRange(value: string): boolean {
  const instant = Date.parse(value);
  return instant >= Date.parse(TIMESTAMP_MIN) && instant <= Date.parse(TIMESTAMP_MAX);
}
export const TimestampSchema = z.iso.datetime({ offset: true }).refine(isWithinTimestampRange, {
  message: `must be between ${TIMESTAMP_MIN} and ${TIMESTAMP_MAX}`,
  // a value that is no timestamp at all is reported once, by the format check
  when: (payload) => payload.issues.length === 0,
});

/** The largest PostgreSQL `integer`, the type of every whole-number column and filter. */
export const INT4_MAX = 2_147_483_647;

/** Page sizes above the cap are refused with 400 rather than silently clamped. */
export const PAGE_SIZE_DEFAULT = 20;
export const PAGE_SIZE_MAX = 100;
export const PageLimitSchema = z.coerce
  .number()
  .int()
  .min(1)
  .max(PAGE_SIZE_MAX)
  .default(PAGE_SIZE_DEFAULT)
  .meta({ description: `Page size, 1-${PAGE_SIZE_MAX} (default ${PAGE_SIZE_DEFAULT}).` });
export const CursorSchema = z
  .string()
  .max(512)
  .optional()
  .meta({ description: 'Opaque cursor from the previous page’s `nextCursor`.' });

/**
 * A query-string flag: `true`/`false` as words (REST) or booleans (tRPC). A preprocess pipe, because
 * trpc-to-openapi 3.3 refuses a union in GET parameters and would coerce a plain boolean with
 * `Boolean("false") === true`.
 */
export const QueryBooleanSchema = z
  .preprocess((value) => (value === 'true' ? true : value === 'false' ? false : value), z.boolean())
  .meta({ type: 'boolean' });

/**
 * A strict number in a JSON body. trpc-to-openapi 3.3 switches every plain number in a procedure's
 * input to coercion on its first REST request, bodies included, so `""` would pass as 0. It leaves
 * pipes alone, so body numbers are wrapped in one and stay strict on both transports.
 */
export const BodyNumber = (schema: z.ZodNumber) => schema.pipe(z.number());

export const CurrencySchema = z
  .string()
  .refine((code): code is Currency => (SUPPORTED_CURRENCIES as readonly string[]).includes(code), {
    message: `one of ${SUPPORTED_CURRENCIES.join(', ')} (ISO 4217, in capitals)`,
  })
  .meta({ enum: [...SUPPORTED_CURRENCIES], example: 'EUR' });

/** A currency in an answer: always one of the supported ones (they are the only ones accepted). */
export const CurrencyCodeSchema = z.string().meta({ enum: [...SUPPORTED_CURRENCIES], example: 'EUR' });

/** Amounts are integer minor units (cents), never floats. */
export const MinorAmountSchema = z.number().int().min(0).max(100_000_000);

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}
