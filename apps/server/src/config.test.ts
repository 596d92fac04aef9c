import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(3000);
    expect(config.HOLD_TTL_MINUTES).toBe(15);
    expect(config.ACCESS_TOKEN_EXPIRE_MINUTES).toBe(15);
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.publicUrl).toBe('http://localhost:3000');
  });

  it('names the variable and the expectation for malformed values', () => {
    expect(problemsOf({ PORT: 'abc' })).toEqual([expect.stringMatching(/^PORT: expected a whole number/)]);
    expect(problemsOf({ DATABASE_URL: 'nonsense' })).toEqual([
      expect.stringMatching(/^DATABASE_URL: expected postgres:\/\//),
    ]);
    expect(problemsOf({ ALGORITHM: 'none' })[0]).toMatch(/^ALGORITHM:/);
  });

  it('never echoes secret values in its messages', () => {
    const problems = problemsOf({ NODE_ENV: 'production', JWT_SECRET_KEY: 'short-secret', HOST: 'https://x.test' });
    expect(problems.join('\n')).toMatch(/JWT_SECRET_KEY: required in production/);
    expect(problems.join('\n')).not.toContain('short-secret');
  });

  it('refuses weak or missing secrets in production', () => {
    const problems = problemsOf({
      NODE_ENV: 'production',
      ADMIN_EMAIL: 'a@b.co',
      ADMIN_USERNAME: 'a',
      ADMIN_PASSWORD: 'weak',
    });
    const names = problems.map((p) => p.split(':')[0]);
    expect(names).toEqual(
      expect.arrayContaining(['JWT_SECRET_KEY', 'JWT_REFRESH_TOKEN_KEY', 'ADMIN_PASSWORD', 'HOST']),
    );
  });

  it('requires the admin variables together', () => {
    expect(
      problemsOf({ ADMIN_EMAIL: 'a@b.co' })
        .map((p) => p.split(':')[0])
        .sort(),
    ).toEqual(['ADMIN_PASSWORD', 'ADMIN_USERNAME']);
  });
});
