import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeCursor, encodeCursor } from './cursor.ts';

describe('keyset cursors', () => {
  const Schema = z.tuple([z.iso.datetime(), z.uuid()]);
  const value: [string, string] = ['2026-01-02T03:04:05.000Z', '6f1c1a0e-8d7a-4c1b-9a55-1f0d7b3c2e11'];

  it('round-trip through an opaque string', () => {
    const cursor = encodeCursor(value);
    expect(cursor).toMatch(/^[\w-]+$/);
    expect(decodeCursor(cursor, Schema)).toEqual(value);
  });

  it.each(['not base64 at all!', encodeCursor({ a: 1 }), encodeCursor(['yesterday', 'x']), ''])(
    'refuses %j with INVALID_CURSOR',
    (cursor) => {
      expect(() => decodeCursor(cursor, Schema)).toThrow(expect.objectContaining({ code: 'INVALID_CURSOR' }));
    },
  );
});

describe('forged cursors with keys the database cannot take', () => {
  const id = '6f1c1a0e-8d7a-4c1b-9a55-1f0d7b3c2e11';
  const Dated = z.tuple([z.iso.datetime(), z.uuid()]);
  const Priced = z.object({ k: z.number().int(), id: z.uuid() });

  it.each(['0000-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '1969-12-31T23:59:59Z'])(
    'refuses the timestamp %s with INVALID_CURSOR',
    (date) => {
      expect(() => decodeCursor(encodeCursor([date, id]), Dated)).toThrow(
        expect.objectContaining({ code: 'INVALID_CURSOR' }),
      );
    },
  );

  it.each([2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 53, -(2 ** 53)])(
    'refuses the whole number %d with INVALID_CURSOR',
    (k) => {
      expect(() => decodeCursor(encodeCursor({ k, id }), Priced)).toThrow(
        expect.objectContaining({ code: 'INVALID_CURSOR' }),
      );
    },
  );

  it('keeps keys at the edges of the range', () => {
    expect(decodeCursor(encodeCursor(['9999-12-31T23:59:59.999Z', id]), Dated)).toEqual([
      '9999-12-31T23:59:59.999Z',
      id,
    ]);
    expect(decodeCursor(encodeCursor({ k: 2 ** 31 - 1, id }), Priced)).toEqual({ k: 2 ** 31 - 1, id });
  });
});
