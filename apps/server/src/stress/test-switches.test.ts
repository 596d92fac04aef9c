import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.ts';

// The stress run's settings that would be dangerous in a deployment exist only with NODE_ENV=test.

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('test-only settings', () => {
  it('LEDGER_UNSAFE_SKIP_ROW_LOCK is refused outside NODE_ENV=test', () => {
    for (const NODE_ENV of ['development', 'production'])
      expect(problemsOf({ NODE_ENV, LEDGER_UNSAFE_SKIP_ROW_LOCK: 'true' }).join('\n')).toMatch(
        /LEDGER_UNSAFE_SKIP_ROW_LOCK: refused unless NODE_ENV=test/,
      );
    expect(loadConfig({ NODE_ENV: 'test', LEDGER_UNSAFE_SKIP_ROW_LOCK: 'true' }).LEDGER_UNSAFE_SKIP_ROW_LOCK).toBe(
      true,
    );
    expect(loadConfig({}).LEDGER_UNSAFE_SKIP_ROW_LOCK).toBe(false);
  });

  it('a hold TTL in fractions of a minute only with NODE_ENV=test', () => {
    expect(problemsOf({ HOLD_TTL_MINUTES: '0.2' })).toEqual([
      expect.stringMatching(/^HOLD_TTL_MINUTES: expected a whole number of minutes, at least 1/),
    ]);
    expect(problemsOf({ HOLD_TTL_MINUTES: '2.5' })).toHaveLength(1);
    expect(loadConfig({ NODE_ENV: 'test', HOLD_TTL_MINUTES: '0.2' }).HOLD_TTL_MINUTES).toBe(0.2);
    expect(loadConfig({ HOLD_TTL_MINUTES: '30' }).HOLD_TTL_MINUTES).toBe(30);
    expect(problemsOf({ NODE_ENV: 'test', HOLD_TTL_MINUTES: '0.01' })[0]).toMatch(/^HOLD_TTL_MINUTES:/);
  });

  it('DATABASE_DIRECT_URL must be a postgres URL and is optional', () => {
    expect(loadConfig({}).DATABASE_DIRECT_URL).toBeUndefined();
    expect(problemsOf({ DATABASE_DIRECT_URL: 'nonsense' })[0]).toMatch(/^DATABASE_DIRECT_URL: expected postgres:\/\//);
    expect(loadConfig({ DATABASE_DIRECT_URL: 'postgres://u:p@db:5432/x' }).DATABASE_DIRECT_URL).toBe(
      'postgres://u:p@db:5432/x',
    );
  });
});
