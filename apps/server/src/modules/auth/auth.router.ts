import { createHash } from 'node:crypto';
import {
  DomainError,
  type LoginInput,
  LoginInputSchema,
  LogoutOutputSchema,
  RefreshInputSchema,
  RegisterInputSchema,
  type Session,
  SessionSchema,
  UserSchema,
} from '@boxoffice/contracts';
import { z } from 'zod';
import type { Context } from '../../trpc/context.ts';
import { protectedProcedure, publicProcedure, router } from '../../trpc/init.ts';
import { getMe, login, logout, refreshSession, registerUser } from './auth.service.ts';

const tags = ['auth'];

const DAY_MS = 24 * 60 * 60_000;
const ACCOUNT_IP_WINDOW_MS = 15 * 60_000;

/** Per IP, every credential endpoint: bounds how fast one address may try anything at all. */
async function limitAuthAttempts(ctx: Context) {
  await ctx.deps.rateLimiter.consume(`auth:ip:${ctx.ip}`, ctx.deps.config.RATE_LIMIT_AUTH_PER_MINUTE);
}

/**
 * Sign-in with failure limits that cannot lock the owner out: failures are counted per IP (any
 * account) and per account from that IP, never per account alone, so someone else's guesses do not
 * stop a correct password from a clean address. Each attempt is counted before the password is
 * checked (parallel guesses cannot slip past the check) and handed back when it succeeds. Unknown
 * accounts count exactly like wrong passwords, so the limits do not reveal which emails exist.
 */
async function limitedLogin(ctx: Context, input: LoginInput): Promise<Session> {
  const { rateLimiter, config } = ctx.deps;
  // a digest, so the shared counter table holds no email addresses
  const account = createHash('sha256').update(input.email).digest('base64url').slice(0, 22);
  const perIp = {
    key: `login-fail:ip:${ctx.ip}`,
    limit: config.RATE_LIMIT_LOGIN_FAILURES_PER_IP_PER_DAY,
    windowMs: DAY_MS,
  };
  const perAccountIp = {
    key: `login-fail:account-ip:${account}:${ctx.ip}`,
    limit: config.RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_IP,
    windowMs: ACCOUNT_IP_WINDOW_MS,
  };
  await limitAuthAttempts(ctx);
  await rateLimiter.consume(perIp.key, perIp.limit, perIp.windowMs);
  await rateLimiter.consume(perAccountIp.key, perAccountIp.limit, perAccountIp.windowMs);
  let session: Session;
  try {
    session = await login(authDeps(ctx), input);
  } catch (error) {
    // only wrong credentials keep their count; anything else was not a guess
    if (!(error instanceof DomainError && error.code === 'INVALID_CREDENTIALS'))
      for (const rule of [perIp, perAccountIp]) await rateLimiter.refund(rule.key, rule.limit, rule.windowMs);
    throw error;
  }
  await rateLimiter.refund(perIp.key, perIp.limit, perIp.windowMs);
  // consecutive failures: a success wipes this account's count from this address
  await rateLimiter.reset(perAccountIp.key, perAccountIp.limit, perAccountIp.windowMs);
  return session;
}

function authDeps(ctx: Context) {
  return { em: ctx.em, tokens: ctx.deps.tokens, clock: ctx.deps.clock };
}

export const authRouter = router({
  register: publicProcedure
    .meta({
      errors: ['EMAIL_TAKEN', 'RATE_LIMITED'],
      openapi: { method: 'POST', path: '/auth/register', tags, summary: 'Create an account' },
    })
    .input(RegisterInputSchema)
    .output(UserSchema)
    .mutation(async ({ ctx, input }) => {
      await limitAuthAttempts(ctx);
      return registerUser(ctx, input);
    }),

  login: publicProcedure
    .meta({
      errors: ['INVALID_CREDENTIALS', 'RATE_LIMITED'],
      openapi: { method: 'POST', path: '/auth/login', tags, summary: 'Sign in; returns tokens' },
    })
    .input(LoginInputSchema)
    .output(SessionSchema)
    .mutation(async ({ ctx, input }) => {
      return limitedLogin(ctx, input);
    }),

  refresh: publicProcedure
    .meta({
      errors: ['INVALID_TOKEN', 'RATE_LIMITED'],
      openapi: { method: 'POST', path: '/auth/refresh', tags, summary: 'Rotate a refresh token' },
    })
    .input(RefreshInputSchema)
    .output(SessionSchema)
    .mutation(async ({ ctx, input }) => {
      await limitAuthAttempts(ctx);
      return refreshSession(authDeps(ctx), input.refreshToken);
    }),

  logout: publicProcedure
    .meta({ openapi: { method: 'POST', path: '/auth/logout', tags, summary: 'Revoke a refresh token family' } })
    .input(RefreshInputSchema)
    .output(LogoutOutputSchema)
    .mutation(async ({ ctx, input }) => {
      await logout(authDeps(ctx), input.refreshToken);
      return { ok: true as const };
    }),

  me: protectedProcedure
    .meta({ openapi: { method: 'GET', path: '/auth/me', tags, summary: 'The signed-in user', protect: true } })
    .input(z.strictObject({}).optional())
    .output(UserSchema)
    .query(({ ctx }) => getMe(ctx, ctx.user)),
});
