import { Writable } from 'node:stream';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../logger.ts';
import { ADMIN, type HttpResult, signUp, startTestServer, TEST_SECRETS, type TestServer } from '../../test/harness.ts';
import { ensureAdmin } from './auth.service.ts';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from './tokens.ts';

const logLines: string[] = [];
const logSink = new Writable({
  write(chunk, _encoding, done) {
    logLines.push(String(chunk));
    done();
  },
});

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ log: createLogger('debug', logSink) });
});
afterAll(() => server?.close());

const secret = new TextEncoder().encode(TEST_SECRETS.JWT_SECRET_KEY);
const password = 'a-long-enough-password';

describe('register, login, me', () => {
  it('works over REST', async () => {
    const reg = await server.http('POST', '/api/auth/register', {
      body: { email: 'Rest.User@Example.TEST', username: 'rest_user', password },
    });
    expect(reg.status).toBe(200);
    expect(reg.body).toMatchObject({ email: 'rest.user@example.test', username: 'rest_user', role: 'user' });
    expect(JSON.stringify(reg.body)).not.toMatch(/hash|argon|password/i);

    const login = await server.http('POST', '/api/auth/login', { body: { email: 'rest.user@example.test', password } });
    expect(login.status).toBe(200);
    expect(login.headers.get('cache-control')).toBe('no-store');
    expect(login.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, user: { id: reg.body.id } });

    const me = await server.http('GET', '/api/auth/me', { token: login.body.accessToken });
    expect(me).toMatchObject({ status: 200, body: { id: reg.body.id, role: 'user' } });
  });

  it('works over tRPC', async () => {
    const post = (path: string, body: unknown, token?: string) =>
      server.http('POST', `/trpc/${path}`, { body, ...(token ? { token } : {}) });
    const reg = await post('auth.register', { email: 'trpc@example.test', username: 'trpc_user', password });
    expect(reg.status).toBe(200);
    const login = await post('auth.login', { email: 'trpc@example.test', password });
    expect(login.status).toBe(200);
    const me = await server.http('GET', '/trpc/auth.me', { token: login.body.result.data.accessToken });
    expect(me.body.result.data).toMatchObject({ email: 'trpc@example.test', id: reg.body.result.data.id });

    const dup = await post('auth.register', { email: 'TRPC@example.test', username: 'again', password });
    expect(dup.status).toBe(409);
    expect(dup.body.error.data).toMatchObject({ code: 'EMAIL_TAKEN', httpStatus: 409 });
    expect(JSON.stringify(dup.body)).not.toContain('stack');
  });

  it('rejects a duplicate email in any case with 409 EMAIL_TAKEN', async () => {
    await server.http('POST', '/api/auth/register', {
      body: { email: 'dup@example.test', username: 'dup1', password },
    });
    const again = await server.http('POST', '/api/auth/register', {
      body: { email: 'DUP@Example.test', username: 'dup2', password },
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('EMAIL_TAKEN');
    const rows = await server.sql('SELECT count(*)::int AS n FROM users WHERE email = ?', ['dup@example.test']);
    expect(rows[0]?.n).toBe(1);
  });

  it('answers {} and a bad email with 400 and the field paths', async () => {
    const empty = await server.http('POST', '/api/auth/register', { body: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.error.details.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      'email',
      'password',
      'username',
    ]);
    const bad = await server.http('POST', '/api/auth/register', {
      body: { email: 'nope', username: 'someone', password: 'short' },
    });
    expect(bad.status).toBe(400);
    const issues = bad.body.error.details.issues as { path: string; message: string }[];
    expect(issues.map((i) => i.path).sort()).toEqual(['email', 'password']);
    expect(issues.find((i) => i.path === 'password')?.message).toMatch(/at least 10 characters/);
  });

  it('refuses role: "admin" at registration (inputs are strict), and creates no account', async () => {
    const reg = await server.http('POST', '/api/auth/register', {
      body: { email: 'sneaky@example.test', username: 'sneaky', password, role: 'admin' },
    });
    expect(reg.status).toBe(400);
    expect(reg.body.error.code).toBe('VALIDATION_FAILED');
    expect(reg.body.error.details.issues).toEqual([expect.objectContaining({ message: 'Unrecognized key: "role"' })]);
    const rows = await server.sql('SELECT role FROM users WHERE email = ?', ['sneaky@example.test']);
    expect(rows).toEqual([]);
  });

  it('stores argon2id hashes with OWASP parameters', async () => {
    const user = await signUp(server);
    const rows = await server.sql<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = ?', [user.id]);
    expect(rows[0]?.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('gives the same 401 for an unknown email and a wrong password', async () => {
    const user = await signUp(server);
    const wrong = await server.http('POST', '/api/auth/login', {
      body: { email: user.email, password: 'wrong-password!' },
    });
    const unknown = await server.http('POST', '/api/auth/login', {
      body: { email: 'nobody@example.test', password: 'wrong-password!' },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const strip = (body: { error: Record<string, unknown> }) => ({ ...body.error, requestId: undefined });
    expect(strip(wrong.body)).toEqual(strip(unknown.body));
    expect(wrong.body.error.code).toBe('INVALID_CREDENTIALS');
  });
});

describe('access token verification', () => {
  let userId: string;
  beforeAll(async () => {
    userId = (await signUp(server)).id;
  });

  const now = () => Math.floor(Date.now() / 1000);
  /** Every claim a valid token has, from which each case below takes one thing away or changes it. */
  const claims = (opts: { alg?: 'HS256' | 'HS512'; withSubject?: boolean } = {}) => {
    const jwt = new SignJWT({ role: 'user' })
      .setProtectedHeader({ alg: opts.alg ?? 'HS256', typ: 'at+jwt' })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt()
      .setJti('j1');
    return opts.withSubject === false ? jwt : jwt.setSubject(userId);
  };
  const valid = () => claims();

  it('accepts a well-formed token (control for the cases below)', async () => {
    const token = await valid()
      .setExpirationTime(now() + 60)
      .sign(secret);
    expect((await server.http('GET', '/api/auth/me', { token })).status).toBe(200);
  });

  const forged: [string, () => Promise<string>][] = [
    [
      'alg none',
      async () =>
        new UnsecuredJWT({ role: 'admin', sub: 'x' })
          .setIssuer(TOKEN_ISSUER)
          .setAudience(TOKEN_AUDIENCE)
          .setExpirationTime('5m')
          .encode(),
    ],
    ['another algorithm', async () => claims({ alg: 'HS512' }).setExpirationTime('5m').sign(secret)],
    ['no exp', async () => valid().sign(secret)],
    [
      'wrong issuer',
      async () =>
        valid()
          .setIssuer('someone-else')
          .setExpirationTime(now() + 60)
          .sign(secret),
    ],
    [
      'wrong audience',
      async () =>
        valid()
          .setAudience('other-api')
          .setExpirationTime(now() + 60)
          .sign(secret),
    ],
    [
      'bad signature',
      async () =>
        valid()
          .setExpirationTime(now() + 60)
          .sign(new TextEncoder().encode('x'.repeat(48))),
    ],
    [
      'expired',
      async () =>
        valid()
          .setExpirationTime(now() - 10)
          .sign(secret),
    ],
    ['no sub', async () => claims({ withSubject: false }).setExpirationTime('5m').sign(secret)],
  ];

  it.each(forged)('rejects %s with 401', async (_name, make) => {
    const res = await server.http('GET', '/api/auth/me', { token: await make() });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_TOKEN');
  });

  it('rejects a missing token with 401 UNAUTHENTICATED and a refresh token as bearer with 401', async () => {
    const none = await server.http('GET', '/api/auth/me');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('UNAUTHENTICATED');
    const user = await signUp(server);
    const res = await server.http('GET', '/api/auth/me', { token: user.refreshToken });
    expect(res.status).toBe(401);
  });
});

describe('refresh tokens', () => {
  it('rotate; replaying a rotated token revokes the whole family', async () => {
    const user = await signUp(server);
    const first = await server.http('POST', '/api/auth/refresh', { body: { refreshToken: user.refreshToken } });
    expect(first.status).toBe(200);
    expect(first.body.refreshToken).not.toBe(user.refreshToken);
    expect((await server.http('GET', '/api/auth/me', { token: first.body.accessToken })).status).toBe(200);

    // past the grace window (auth.hardening.test.ts covers the window itself)
    await server.sql("UPDATE refresh_tokens SET used_at = used_at - interval '1 minute' WHERE user_id = ?", [user.id]);
    const replay = await server.http('POST', '/api/auth/refresh', { body: { refreshToken: user.refreshToken } });
    expect(replay.status).toBe(401);
    const newer = await server.http('POST', '/api/auth/refresh', { body: { refreshToken: first.body.refreshToken } });
    expect(newer.status).toBe(401);
  });

  it('concurrent rotations of one token: one rotation, every caller gets its successor', async () => {
    const user = await signUp(server);
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        server.http('POST', '/api/auth/refresh', { body: { refreshToken: user.refreshToken } }),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    expect(new Set(results.map((r) => r.body.refreshToken)).size).toBe(1);
  });

  it('logout revokes the family; refresh afterwards is 401', async () => {
    const user = await signUp(server);
    const rotated = await server.http('POST', '/api/auth/refresh', { body: { refreshToken: user.refreshToken } });
    const out = await server.http('POST', '/api/auth/logout', { body: { refreshToken: user.refreshToken } });
    expect(out).toMatchObject({ status: 200, body: { ok: true } });
    const after = await server.http('POST', '/api/auth/refresh', { body: { refreshToken: rotated.body.refreshToken } });
    expect(after.status).toBe(401);
  });

  it('stores only keyed hashes of refresh tokens', async () => {
    const user = await signUp(server);
    const rows = await server.sql<{ token_hash: string }>('SELECT token_hash FROM refresh_tokens WHERE user_id = ?', [
      user.id,
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.token_hash).not.toContain(user.refreshToken);
  });
});

describe('admin bootstrap', () => {
  it('creates the admin from the environment and never overwrites it', async () => {
    const login = await server.http('POST', '/api/auth/login', {
      body: { email: ADMIN.email, password: ADMIN.password },
    });
    expect(login.status).toBe(200);
    expect(login.body.user.role).toBe('admin');

    const second = await ensureAdmin(server.deps.orm.em.fork(), { ...ADMIN, password: 'a-different-password' });
    expect(second).toBe('exists');
    const again = await server.http('POST', '/api/auth/login', {
      body: { email: ADMIN.email, password: ADMIN.password },
    });
    expect(again.status).toBe(200);
    const changed = await server.http('POST', '/api/auth/login', {
      body: { email: ADMIN.email, password: 'a-different-password' },
    });
    expect(changed.status).toBe(401);
    const rows = await server.sql('SELECT count(*)::int AS n FROM users WHERE role = ?', ['admin']);
    expect(rows[0]?.n).toBe(1);
  });
});

describe('secrets stay out of logs', () => {
  it('no log line contains a password, a hash or a token', async () => {
    const user = await signUp(server);
    await server.http('POST', '/api/auth/refresh', { body: { refreshToken: user.refreshToken } });
    await server.http('GET', '/api/auth/me', { token: user.accessToken });
    const all = logLines.join('');
    expect(all.length).toBeGreaterThan(0);
    expect(all).not.toContain(password);
    expect(all).not.toContain(ADMIN.password);
    expect(all).not.toContain('$argon2');
    expect(all).not.toContain(user.accessToken);
    expect(all).not.toContain(user.refreshToken);
    expect(all).not.toContain('eyJ');
  });
});

describe('rate limits', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer({
      env: { RATE_LIMIT_AUTH_PER_MINUTE: '20', RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_IP: '10' },
    });
  });
  afterAll(() => limited?.close());

  it('20 wrong passwords in a row end in 429 RATE_LIMITED with Retry-After', async () => {
    const statuses: number[] = [];
    let last: HttpResult | undefined;
    for (let i = 0; i < 20; i++) {
      last = await limited.http('POST', '/api/auth/login', { body: { email: ADMIN.email, password: `wrong-${i}` } });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(10).every((s) => s === 429)).toBe(true);
    expect(last?.body.error.code).toBe('RATE_LIMITED');
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('limits registrations per IP too', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await limited.http('POST', '/api/auth/register', {
        body: { email: `flood${i}@example.test`, username: `flood${i}`, password },
      });
      statuses.push(res.status);
    }
    // the IP budget (20/min) was partly spent by the login test above
    expect(statuses).toContain(429);
  });
});

describe('sign-in limits that cannot lock the owner out', () => {
  let proxied: TestServer;
  beforeAll(async () => {
    proxied = await startTestServer({
      env: {
        TRUST_PROXY: 'true',
        // the all-attempts limit off, so what is seen here is the failure limits alone
        RATE_LIMIT_AUTH_PER_MINUTE: '0',
        RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_IP: '10',
        RATE_LIMIT_LOGIN_FAILURES_PER_IP_PER_DAY: '40',
      },
    });
  });
  afterAll(() => proxied?.close());

  const loginFrom = (ip: string, email: string, pw: string) =>
    proxied.http('POST', '/api/auth/login', { body: { email, password: pw }, headers: { 'x-forwarded-for': ip } });

  it("an attacker's 30 failures on the victim's account stop the attacker, not the victim", async () => {
    const victim = await signUp(proxied, 'victim');
    const attacker = '198.51.100.7';
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await loginFrom(attacker, victim.email, `guess-${i}-password`)).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual(Array(20).fill(429));

    const fromVictim = await loginFrom('203.0.113.20', victim.email, victim.password);
    expect(fromVictim.status).toBe(200);
    expect(fromVictim.body.user.id).toBe(victim.id);

    // the victim's success clears nothing for the attacker, whose guesses stay refused, right or wrong
    const again = await loginFrom(attacker, victim.email, 'guess-again-password');
    expect(again.status).toBe(429);
    expect(again.body.error.code).toBe('RATE_LIMITED');
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await loginFrom(attacker, victim.email, victim.password)).status).toBe(429);
  });

  it('a success resets the failures for that account from that address', async () => {
    const user = await signUp(proxied);
    const ip = '198.51.100.8';
    for (let i = 0; i < 9; i++) expect((await loginFrom(ip, user.email, `typo-${i}-password`)).status).toBe(401);
    expect((await loginFrom(ip, user.email, user.password)).status).toBe(200);
    const after: number[] = [];
    for (let i = 0; i < 11; i++) after.push((await loginFrom(ip, user.email, `typo-${i}-password`)).status);
    expect(after).toEqual([...Array(10).fill(401), 429]);
  });

  it('counts unknown accounts like wrong passwords', async () => {
    const ip = '198.51.100.9';
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++)
      statuses.push((await loginFrom(ip, 'nobody@example.test', `guess-${i}-password`)).status);
    expect(statuses).toEqual([...Array(10).fill(401), 429]);
  });

  it('caps failures per address across accounts', async () => {
    const ip = '198.51.100.10';
    const statuses: number[] = [];
    for (let i = 0; i < 41; i++)
      statuses.push((await loginFrom(ip, `sprayed-${i}@example.test`, 'password-from-a-list')).status);
    expect(statuses).toEqual([...Array(40).fill(401), 429]);
    // another address is unaffected
    expect((await loginFrom('198.51.100.11', 'sprayed-0@example.test', 'password-from-a-list')).status).toBe(401);
  });
});

describe('rate limits across instances', () => {
  let first: TestServer;
  let second: TestServer;
  beforeAll(async () => {
    first = await startTestServer({ env: { RATE_LIMIT_AUTH_PER_MINUTE: '20' } });
    second = await startTestServer({ env: { RATE_LIMIT_AUTH_PER_MINUTE: '20' }, shareDatabaseOf: first });
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('21 failed sign-ins from one address spread over two instances: the 21st is refused', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) {
      const instance = i % 2 === 0 ? first : second;
      // a different account each time: the per-IP limit is what is under test
      const res = await instance.http('POST', '/api/auth/login', {
        body: { email: `spread-${i}@example.test`, password: 'not-the-password' },
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array(20).fill(401), 429]);
  });
});
