import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStandaloneConfig, StandaloneConfigError, startStandalone } from './standalone.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paypal-sim-standalone-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('standalone configuration', () => {
  it('has safe defaults: loopback, no faults, redirects only to a local server, state on disk', () => {
    const config = readStandaloneConfig({ PAYPAL_SIM_DATA_DIR: dir });
    expect(config).toMatchObject({
      port: 4010,
      hostname: '127.0.0.1',
      mountPath: '',
      faults: false,
      allowedRedirectPrefixes: [
        'http://localhost:3000/payments/paypal/return',
        'http://localhost:3000/payments/paypal/cancel',
      ],
      stateFile: path.join(dir, 'paypal-simulator-state.json'),
    });
    expect(readStandaloneConfig({ PORT: '5000' }).port).toBe(5000);
    expect(readStandaloneConfig({ PORT: '5000', PAYPAL_SIM_PORT: '5001' }).port).toBe(5001);
    expect(readStandaloneConfig({ PAYPAL_SIM_PERSIST: 'false' }).stateFile).toBeUndefined();
  });

  it('names each bad variable and never echoes a secret', () => {
    const attempt = () =>
      readStandaloneConfig({
        NODE_ENV: 'production',
        PAYPAL_SIM_FAULTS: 'true',
        PAYPAL_SIM_PORT: 'eighty',
        PAYPAL_SIM_CLIENT_SECRET: 'top-secret-value',
        PAYPAL_SIM_ALLOWED_REDIRECTS: 'javascript:alert(1)',
      });
    expect(attempt).toThrow(StandaloneConfigError);
    const problems = (() => {
      try {
        attempt();
      } catch (error) {
        return (error as StandaloneConfigError).problems;
      }
      return [];
    })();
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'PAYPAL_SIM_ALLOWED_REDIRECTS',
      'PAYPAL_SIM_CLIENT_ID',
      'PAYPAL_SIM_FAULTS',
      'PAYPAL_SIM_PORT',
    ]);
    expect(problems.join('\n')).not.toContain('top-secret-value');
  });
});

describe('startStandalone', () => {
  it('writes generated credentials to a private file, prints only the client id, and reuses them', async () => {
    const config = readStandaloneConfig({
      PAYPAL_SIM_PORT: '0',
      PAYPAL_SIM_DATA_DIR: dir,
      PAYPAL_SIM_PERSIST: 'false',
    });
    const printed: string[] = [];
    const first = await startStandalone(config, (line) => printed.push(line));
    let secret = '';
    try {
      const file = path.join(dir, 'paypal-simulator-credentials.json');
      const saved = JSON.parse(await readFile(file, 'utf8'));
      secret = saved.clientSecret;
      expect(saved.clientId).toBe(first.credentials.clientId);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const output = printed.join('\n');
      expect(output).toContain(`listening on ${first.origin}`);
      expect(output).toContain(first.credentials.clientId);
      expect(output).toContain(file);
      expect(output).not.toContain(secret);
      const token = await fetch(`${first.baseUrl}/v1/oauth2/token`, {
        method: 'POST',
        headers: { authorization: basic(saved.clientId, saved.clientSecret) },
        body: 'grant_type=client_credentials',
      });
      expect(token.status).toBe(200);
    } finally {
      await first.close();
    }
    const second = await startStandalone(config, () => {});
    try {
      expect(second.credentials.clientSecret).toBe(secret);
    } finally {
      await second.close();
    }
  });

  it('takes credentials from the environment when both are given', async () => {
    const config = readStandaloneConfig({
      PAYPAL_SIM_PORT: '0',
      PAYPAL_SIM_PERSIST: 'false',
      PAYPAL_SIM_DATA_DIR: path.join(dir, 'env'),
      PAYPAL_SIM_CLIENT_ID: 'shared-offline-paypal',
      PAYPAL_SIM_CLIENT_SECRET: 'a-secret-the-operator-chose-0123456789',
    });
    const printed: string[] = [];
    const sim = await startStandalone(config, (line) => printed.push(line));
    try {
      expect(sim.credentialsSource).toBe('env');
      expect(printed.join('\n')).toContain('from PAYPAL_SIM_CLIENT_SECRET');
      expect(printed.join('\n')).not.toContain('a-secret-the-operator-chose');
    } finally {
      await sim.close();
    }
  });
});

describe('node src/main.ts', () => {
  it('listens, serves the API, and keeps an order across a SIGTERM restart', async () => {
    const env = {
      PATH: process.env.PATH ?? '',
      PAYPAL_SIM_PORT: '0',
      PAYPAL_SIM_DATA_DIR: path.join(dir, 'main'),
      PAYPAL_SIM_ALLOWED_REDIRECTS: 'http://localhost:3000/payments/paypal/',
    };
    const start = async () => {
      const child = spawn(process.execPath, [path.join(import.meta.dirname, 'main.ts')], { env, stdio: 'pipe' });
      let output = '';
      child.stdout.on('data', (chunk) => {
        output += chunk;
      });
      child.stderr.on('data', (chunk) => {
        output += chunk;
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      for (let i = 0; i < 100 && !/API base URL:\s+(\S+)/.test(output); i++)
        await new Promise((r) => setTimeout(r, 50));
      const baseUrl = /API base URL:\s+(\S+)/.exec(output)?.[1];
      expect(baseUrl, output).toBeTruthy();
      return { child, exited, baseUrl: baseUrl as string, output: () => output };
    };
    const credentials = async () =>
      JSON.parse(await readFile(path.join(dir, 'main', 'paypal-simulator-credentials.json'), 'utf8'));
    const api = async (baseUrl: string, method: string, urlPath: string, body?: unknown) => {
      const { clientId, clientSecret } = await credentials();
      const tokenResponse = await fetch(`${baseUrl}/v1/oauth2/token`, {
        method: 'POST',
        headers: { authorization: basic(clientId, clientSecret) },
        body: 'grant_type=client_credentials',
      });
      const token = (await tokenResponse.json()).access_token;
      const response = await fetch(`${baseUrl}${urlPath}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: await response.json() };
    };

    const first = await start();
    const created = await api(first.baseUrl, 'POST', '/v2/checkout/orders', {
      intent: 'CAPTURE',
      purchase_units: [{ amount: { currency_code: 'USD', value: '9.00' } }],
      payment_source: {
        paypal: { experience_context: { return_url: 'http://localhost:3000/payments/paypal/return?ref=z' } },
      },
    });
    expect(created.status).toBe(201);
    expect(first.output()).not.toContain((await credentials()).clientSecret);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await start();
    try {
      const fetched = await api(second.baseUrl, 'GET', `/v2/checkout/orders/${created.body.id}`);
      expect(fetched).toMatchObject({ status: 200, body: { id: created.body.id, status: 'PAYER_ACTION_REQUIRED' } });
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});
