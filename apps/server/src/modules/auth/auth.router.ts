import {
  LoginInputSchema,
  LogoutOutputSchema,
  RefreshInputSchema,
  RegisterInputSchema,
  SessionSchema,
  UserSchema,
} from '@boxoffice/contracts';
import { z } from 'zod';
import type { Context } from '../../trpc/context.ts';
import { protectedProcedure, publicProcedure, router } from '../../trpc/init.ts';
import { getMe, login, logout, refreshSession, registerUser } from './auth.service.ts';

const tags = ['auth'];

/** Per-IP limit on every credential endpoint; per-account on top where an account is named. */
async function limitAuthAttempts(ctx: Context, action: string, account?: string) {
  const { rateLimiter, config } = ctx.deps;
  await rateLimiter.consume(`auth:ip:${ctx.ip}`, config.RATE_LIMIT_AUTH_PER_MINUTE);
  if (account)
    await rateLimiter.consume(`auth:${action}:account:${account}`, config.RATE_LIMIT_AUTH_PER_ACCOUNT_PER_MINUTE);
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
      await limitAuthAttempts(ctx, 'register');
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
      await limitAuthAttempts(ctx, 'login', input.email);
      return login(authDeps(ctx), input);
    }),

  refresh: publicProcedure
    .meta({
      errors: ['INVALID_TOKEN', 'RATE_LIMITED'],
      openapi: { method: 'POST', path: '/auth/refresh', tags, summary: 'Rotate a refresh token' },
    })
    .input(RefreshInputSchema)
    .output(SessionSchema)
    .mutation(async ({ ctx, input }) => {
      await limitAuthAttempts(ctx, 'refresh');
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
    .input(z.object({}).optional())
    .output(UserSchema)
    .query(({ ctx }) => getMe(ctx, ctx.user)),
});
