import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../lib/clock.ts';
import { signUp, startTestServer, type TestServer } from '../../test/harness.ts';
import { isCommonPassword } from './password.ts';

const clock = manualClock(new Date('2030-05-01T10:00:00.000Z'));
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ clock, env: { REFRESH_TOKEN_GRACE_SECONDS: '10' } });
});
afterAll(() => server?.close());

let n = 0;
const register = (password: string, who: { username?: string; email?: string } = {}) => {
  n += 1;
  return server.http('POST', '/api/auth/register', {
    body: { username: who.username ?? `hardened${n}`, email: who.email ?? `hardened${n}@example.test`, password },
  });
};

const passwordIssue = (body: { error: { details?: { issues?: { path: string; message: string }[] } } }) =>
  body.error.details?.issues?.find((issue) => issue.path === 'password');

describe('password policy at registration', () => {
  it.each(['password1234', 'Password1234', 'qwertyuiop', '1234567890', 'iloveyou12', 'letmein123'])(
    'refuses the common password %j with 400 VALIDATION_FAILED on the password field',
    async (password) => {
      const res = await register(password);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(passwordIssue(res.body)?.message).toMatch(/common/i);
    },
  );

  it.each([
    ['keeper12345', { username: 'keeper' }],
    ['KEEPER-keeper', { username: 'keeper' }],
    ['jane.doe@example.test', { email: 'jane.doe@example.test' }],
    ['jane.doe.2030', { email: 'jane.doe@example.test' }],
  ])('refuses %j, which is mostly the account’s own name or email', async (password, who) => {
    const res = await register(password, who);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(passwordIssue(res.body)?.message).toMatch(/username or email/);
  });

  it('accepts a long uncommon password, even one that mentions the name in passing', async () => {
    expect((await register('correct horse battery staple')).status).toBe(200);
    expect((await register('keeper of the seven lighthouses', { username: 'keeper' })).status).toBe(200);
  });

  it('the bundled list holds the well-known ones and needs no network', () => {
    for (const password of ['123456', 'password', 'qwerty123', 'dragon', 'football12']) {
      expect(isCommonPassword(password)).toBe(true);
    }
    expect(isCommonPassword('a-long-enough-password')).toBe(false);
  });
});

describe('refresh token rotation under concurrency', () => {
  const refresh = (refreshToken: string) => server.http('POST', '/api/auth/refresh', { body: { refreshToken } });

  it('ten parallel refreshes of one token all succeed with one successor; the family stays signed in', async () => {
    const user = await signUp(server);
    const results = await Promise.all(Array.from({ length: 10 }, () => refresh(user.refreshToken)));
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    const successors = new Set(results.map((r) => r.body.refreshToken as string));
    expect(successors.size).toBe(1);
    const [successor] = successors;
    expect(successor).not.toBe(user.refreshToken);
    for (const r of results)
      expect((await server.http('GET', '/api/auth/me', { token: r.body.accessToken })).status).toBe(200);
    // one rotation happened: one new row in the family, and the successor rotates on as usual
    const rows = await server.sql<{ n: number }>('SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = ?', [
      user.id,
    ]);
    expect(rows[0]?.n).toBe(2);
    const next = await refresh(successor as string);
    expect(next.status).toBe(200);
    expect(next.body.refreshToken).not.toBe(successor);
  });

  it('a replay after the grace window still revokes the whole family', async () => {
    const user = await signUp(server);
    const rotated = await refresh(user.refreshToken);
    expect(rotated.status).toBe(200);
    clock.advance(5_000);
    // still within the window: the same successor again
    const retried = await refresh(user.refreshToken);
    expect(retried.status).toBe(200);
    expect(retried.body.refreshToken).toBe(rotated.body.refreshToken);

    clock.advance(6_000);
    const replay = await refresh(user.refreshToken);
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe('INVALID_TOKEN');
    // the leak was noticed: the successor, still unused, is revoked with the family
    expect((await refresh(rotated.body.refreshToken)).status).toBe(401);
  });

  it('within the window, a successor already rotated on is not handed out again', async () => {
    const user = await signUp(server);
    const rotated = await refresh(user.refreshToken);
    const onward = await refresh(rotated.body.refreshToken);
    expect(onward.status).toBe(200);
    const late = await refresh(user.refreshToken);
    expect(late.status).toBe(401);
    // but that alone is no sign of theft: the newest token still works
    expect((await refresh(onward.body.refreshToken)).status).toBe(200);
  });
});
