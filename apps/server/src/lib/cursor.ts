import { DomainError, INT4_MAX, isWithinTimestampRange } from '@boxoffice/contracts';
import type { z } from 'zod';

/** Opaque keyset cursors: base64url JSON of the last row's sort key and id. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T/;

/**
 * A cursor's keys go straight back into SQL comparisons, and a client can forge one: every
 * timestamp must be one PostgreSQL takes, every whole number must fit an `integer` column. The
 * negative end stops one short of int4's minimum: parameters are inlined into the SQL, and
 * `-2147483648::integer` casts before it negates, which overflows.
 */
function fitsTheDatabase(value: unknown): boolean {
  if (typeof value === 'string') return !ISO_DATETIME.test(value) || isWithinTimestampRange(value);
  if (typeof value === 'number')
    return Number.isFinite(value) && (!Number.isInteger(value) || Math.abs(value) <= INT4_MAX);
  if (Array.isArray(value)) return value.every(fitsTheDatabase);
  if (value && typeof value === 'object') return Object.values(value).every(fitsTheDatabase);
  return true;
}

export function decodeCursor<T extends z.ZodType>(cursor: string, schema: T): z.infer<T> {
  try {
    const raw: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const parsed = schema.safeParse(raw);
    if (parsed.success && fitsTheDatabase(raw)) return parsed.data;
  } catch {
    // falls through to the error below
  }
  throw new DomainError('INVALID_CURSOR', 'The cursor is not one this endpoint handed out', { field: 'cursor' });
}
