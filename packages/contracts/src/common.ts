import { z } from 'zod';

export const IdSchema = z.uuid();
export const TimestampSchema = z.iso.datetime({ offset: true });

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

/** Query-string booleans: only the words `true` and `false` (z.coerce.boolean would read "false" as true). */
export const QueryBooleanSchema = z.union([
  z.boolean(),
  z.enum(['true', 'false']).transform((value) => value === 'true'),
]);

export const CurrencySchema = z
  .string()
  .regex(/^[A-Z]{3}$/, 'ISO 4217 code in capitals, e.g. EUR')
  .meta({ example: 'EUR' });

/** Amounts are integer minor units (cents), never floats. */
export const MinorAmountSchema = z.number().int().min(0).max(100_000_000);

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}
