import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';
import { generateTicketSigningKey } from './modules/tickets/ticket-code.ts';

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

const PRODUCTION = {
  NODE_ENV: 'production',
  HOST: 'https://tickets.example.test',
  JWT_SECRET_KEY: 'x'.repeat(40),
  JWT_REFRESH_TOKEN_KEY: 'y'.repeat(40),
  ADMIN_EMAIL: 'admin@example.test',
  ADMIN_USERNAME: 'admin',
  ADMIN_PASSWORD: 'a-long-admin-password',
  PAYPAL_SIMULATOR: 'true',
};

describe('mail and ticket key configuration', () => {
  it('production needs SMTP_URL (or MAIL_DISABLED=true) and TICKET_SIGNING_KEY', () => {
    const names = problemsOf(PRODUCTION).map((p) => p.split(':')[0]);
    expect(names).toEqual(['SMTP_URL', 'TICKET_SIGNING_KEY']);
    const key = generateTicketSigningKey();
    expect(problemsOf({ ...PRODUCTION, SMTP_URL: 'smtp://mail.example.test:587', TICKET_SIGNING_KEY: key })).toEqual(
      [],
    );
    expect(problemsOf({ ...PRODUCTION, MAIL_DISABLED: 'true', TICKET_SIGNING_KEY: key })).toEqual([]);
  });

  it('refuses a malformed SMTP_URL or key without echoing either', () => {
    const problems = problemsOf({ SMTP_URL: 'http://user:hunter2@mail', TICKET_SIGNING_KEY: 'bm90IGEga2V5' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['SMTP_URL', 'TICKET_SIGNING_KEY']);
    expect(problems.join('\n')).not.toContain('hunter2');
    expect(problems.join('\n')).not.toContain('bm90IGEga2V5');
  });
});

// The stress run's settings that would be dangerous in a deployment exist only with NODE_ENV=test.
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
