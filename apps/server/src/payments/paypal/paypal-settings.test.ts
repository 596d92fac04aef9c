import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config.ts';
import { generateTicketSigningKey } from '../../modules/tickets/ticket-code.ts';
import { resolvePayPalSettings } from './paypal-settings.ts';

const base = { NODE_ENV: 'test', LOG_LEVEL: 'silent' };
const production = {
  NODE_ENV: 'production',
  HOST: 'https://tickets.example',
  JWT_SECRET_KEY: 'x'.repeat(40),
  JWT_REFRESH_TOKEN_KEY: 'y'.repeat(40),
  ADMIN_EMAIL: 'admin@tickets.example',
  ADMIN_USERNAME: 'admin',
  ADMIN_PASSWORD: 'a-long-admin-password',
  MAIL_DISABLED: 'true',
  TICKET_SIGNING_KEY: generateTicketSigningKey(),
};

describe('resolvePayPalSettings', () => {
  it('uses real PayPal when both credentials are set', () => {
    const config = loadConfig({
      ...base,
      PAYPAL_CLIENT_ID: 'live-id',
      PAYPAL_SECRET_KEY: 'live-secret',
      PAYPAL_ENV: 'live',
      PAYPAL_TIMEOUT_MS: '4000',
    });
    expect(resolvePayPalSettings(config)).toEqual({
      mode: 'paypal',
      clientId: 'live-id',
      clientSecret: 'live-secret',
      environment: 'live',
      timeoutMs: 4000,
      maxRetries: 2,
    });
    const overridden = loadConfig({
      ...base,
      PAYPAL_CLIENT_ID: 'id',
      PAYPAL_SECRET_KEY: 'secret',
      PAYPAL_API_BASE_URL: 'http://paypal.internal:8080',
    });
    expect(resolvePayPalSettings(overridden).baseUrl).toBe('http://paypal.internal:8080');
  });

  it('falls back to the built-in simulator without credentials', () => {
    const config = loadConfig({ ...base, HOST: 'http://localhost:3000' });
    const settings = resolvePayPalSettings(config);
    expect(settings).toMatchObject({
      mode: 'simulator',
      environment: 'sandbox',
      baseUrl: 'http://localhost:3000/paypal-sim',
      simulator: {
        publicUrl: 'http://localhost:3000/paypal-sim',
        allowedRedirectPrefixes: [
          'http://localhost:3000/payments/paypal/return',
          'http://localhost:3000/payments/paypal/cancel',
        ],
        faults: false,
        stateFile: '.data/paypal-simulator.json',
      },
    });
    expect(resolvePayPalSettings(config, 'http://127.0.0.1:4567/').baseUrl).toBe('http://127.0.0.1:4567/paypal-sim');
    expect(settings.warning).toBeUndefined();
  });

  it('gives offline mode a random merchant secret per start, never the old public constants', () => {
    const config = loadConfig({ ...base, HOST: 'http://localhost:3000' });
    const first = resolvePayPalSettings(config);
    const second = resolvePayPalSettings(config);
    expect(first.clientSecret).toMatch(/^[\w-]{43}$/);
    expect(second.clientSecret).not.toBe(first.clientSecret);
    expect(first.clientId).not.toBe('sim-client-id');
    expect(first.clientSecret).not.toBe('sim-client-secret');
    // the simulator is built with the very credentials the gateway uses
    expect(first.simulator).toMatchObject({ clientId: first.clientId, clientSecret: first.clientSecret });
  });

  it('keeps simulator state in DATA_DIR unless told not to, and faults only when asked', () => {
    const settings = resolvePayPalSettings(
      loadConfig({ ...base, DATA_DIR: '/var/lib/boxoffice', PAYPAL_SIMULATOR_FAULTS: 'true' }),
    );
    expect(settings.simulator).toMatchObject({ stateFile: '/var/lib/boxoffice/paypal-simulator.json', faults: true });
    const memory = resolvePayPalSettings(loadConfig({ ...base, PAYPAL_SIMULATOR_PERSIST: 'false' }));
    expect(memory.simulator?.stateFile).toBeUndefined();
  });

  it('warns loudly, naming what is exposed, when production runs on the simulator', () => {
    const config = loadConfig({ ...production, PAYPAL_SIMULATOR: 'true' });
    const { warning } = resolvePayPalSettings(config);
    expect(warning).toMatch(/no money moves/);
    expect(warning).toContain('https://tickets.example/paypal-sim/checkoutnow');
    expect(warning).toMatch(/public/);
    expect(warning).not.toContain(resolvePayPalSettings(config).clientSecret);
  });

  it('refuses simulator fault injection in production', () => {
    expect(() => loadConfig({ ...production, PAYPAL_SIMULATOR: 'true', PAYPAL_SIMULATOR_FAULTS: 'true' })).toThrow(
      /PAYPAL_SIMULATOR_FAULTS: refused in production/,
    );
  });

  it('refuses half a set of credentials', () => {
    const config = loadConfig({ ...base, PAYPAL_CLIENT_ID: 'id-only' });
    expect(() => resolvePayPalSettings(config)).toThrow(ConfigError);
    expect(() => resolvePayPalSettings(config)).toThrow(/PAYPAL_SECRET_KEY/);
  });
});
