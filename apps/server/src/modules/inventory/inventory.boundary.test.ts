import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The house rules that keep the ledger the one place for ticket counts, checked on the source:
 * no production file outside modules/inventory writes `available`, `held` or `sold`, and
 * modules/bookings imports nothing from payments (payments reach bookings as an injected port).
 */

const SRC = path.resolve(import.meta.dirname, '../..');
const REPO = path.resolve(SRC, '../../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Production code: tests, the test harness and the benchmark's raw-SQL ceiling are not. */
const isProduction = (file: string) =>
  !file.endsWith('.test.ts') &&
  !file.includes(`${path.sep}test${path.sep}`) &&
  !file.includes(`${path.sep}bench${path.sep}`);

const COUNT = '(?:available|held|sold)';
/** SQL `SET available = …` / `held = held + …`, JS `x.held -= …` / `x.available = …`. */
const WRITES = [
  // an UPDATE's SET list, up to its WHERE: a comparison in a WHERE or CASE is not a write
  new RegExp(`\\bUPDATE\\s+\\w+\\s+SET\\b(?:(?!\\bWHERE\\b)[^;])*?\\b${COUNT}\\s*=[^=]`, 'is'),
  new RegExp(`[,\\s]${COUNT}\\s*=\\s*${COUNT}\\s*[-+]`, 'i'),
  // a property write in JS (`events.held = 0` is SQL's qualified column in a comparison)
  new RegExp(`(?<!\\bevents)\\.${COUNT}\\s*(?:[-+]?=)[^=]`),
];

export function countWrites(text: string): string[] {
  return WRITES.flatMap((pattern) => {
    const match = pattern.exec(text);
    return match ? [match[0].replace(/\s+/g, ' ').slice(0, 80)] : [];
  });
}

describe('the ticket ledger boundary', () => {
  it('recognises the ways a count can be written (so the check below can fail)', () => {
    expect(countWrites('UPDATE events SET available = available - ?, held = held + ?')).not.toEqual([]);
    expect(countWrites('UPDATE events SET title = ?, sold = 0 WHERE id = ?')).not.toEqual([]);
    expect(countWrites('event.held -= tickets;')).not.toEqual([]);
    expect(countWrites('event.available = input.capacity - reserved;')).not.toEqual([]);
    expect(countWrites('WHERE available >= ? AND status = ?')).toEqual([]);
    expect(countWrites('UPDATE events SET title = ? WHERE held = 0')).toEqual([]);
    expect(countWrites("SET LOCAL enable_bitmapscan = off'); SELECT CASE WHEN events.held = 0 THEN 1 END")).toEqual([]);
    expect(countWrites('if (event.available === 0) return;')).toEqual([]);
    expect(countWrites('{ available: row.available + row.lapsed }')).toEqual([]);
  });

  it('no production file outside modules/inventory writes available, held or sold', () => {
    const roots = [SRC, path.join(REPO, 'packages')];
    const offenders = roots
      .flatMap(sourceFiles)
      .filter(isProduction)
      .filter((file) => !file.includes(`${path.sep}modules${path.sep}inventory${path.sep}`))
      .filter((file) => !file.includes(`${path.sep}migrations${path.sep}`))
      .flatMap((file) =>
        countWrites(readFileSync(file, 'utf8')).map((write) => `${path.relative(REPO, file)}: ${write}`),
      );
    expect(offenders).toEqual([]);
  });

  it('modules/bookings imports nothing from payments/ (its tests may compose the whole server)', () => {
    const imports = sourceFiles(path.join(SRC, 'modules', 'bookings'))
      .filter(isProduction)
      .flatMap((file) =>
        [...readFileSync(file, 'utf8').matchAll(/from\s+'([^']+)'/g)]
          .map((match) => match[1] as string)
          .filter((spec) => spec.startsWith('.'))
          .map((spec) => path.relative(SRC, path.resolve(path.dirname(file), spec)))
          .filter((target) => target.startsWith(`payments${path.sep}`))
          .map((target) => `${path.relative(SRC, file)} → ${target}`),
      );
    expect(imports).toEqual([]);
  });
});
