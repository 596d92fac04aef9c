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
