import { DomainError, type ErrorCode } from '@boxoffice/contracts';
import { initTRPC } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { isDatabaseUnavailable, toDomainError, toTRPCError } from '../errors.ts';
import { isDoorStaffAnywhere } from '../modules/checkin/checkin.service.ts';
import type { Context } from './context.ts';

/** `access` records who may call a procedure, so tests can be generated from the router. */
export type ProcedureMeta = OpenApiMeta & {
  access?: 'public' | 'viewer' | 'user' | 'staff' | 'admin';
  /** Domain errors the procedure itself can answer with, for the OpenAPI document (access and input errors are added). */
  errors?: ErrorCode[];
};

const t = initTRPC
  .context<Context>()
  .meta<ProcedureMeta>()
  .create({
    // isDev:false keeps stack traces out of every error body
    isDev: false,
    errorFormatter({ shape, error }) {
      const domain = toDomainError(error);
      return {
        code: shape.code,
        message: domain.code === 'INTERNAL' ? 'Internal server error' : domain.message,
        data: {
          code: domain.code,
          httpStatus: domain.status,
          details: domain.details,
          path: shape.data.path,
        },
      };
    },
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/**
 * Domain errors leave procedures as TRPCErrors carrying the domain code; so does a database that is
 * unreachable, which is 503 DATABASE_UNAVAILABLE (retry), not a 500.
 */
const domainErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (result.ok) return result;
  if (result.error.cause instanceof DomainError) return { ...result, error: toTRPCError(result.error.cause) };
  if (isDatabaseUnavailable(result.error)) return { ...result, error: toTRPCError(toDomainError(result.error)) };
  return result;
});

/** Where in a raw input a string holds a NUL character (PostgreSQL text cannot store one), if anywhere. */
function nulBytePath(value: unknown, path: string[] = []): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path.join('.') || '(root)' : null;
  if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      const found = nulBytePath(child, [...path, key]);
      if (found !== null) return found;
    }
  }
  return null;
}

const rejectNulBytes = t.middleware(async ({ getRawInput, next }) => {
  const path = nulBytePath(await getRawInput());
  if (path !== null)
    throw new DomainError('VALIDATION_FAILED', `Invalid input: ${path}`, {
      issues: [{ path, message: 'must not contain NUL characters', code: 'invalid_format' }],
    });
  return next();
});

export const publicProcedure = t.procedure.use(domainErrors).use(rejectNulBytes).meta({ access: 'public' });

function bearerToken(header: string): string {
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) throw new DomainError('INVALID_TOKEN', 'Authorization header must be "Bearer <access token>"');
  return match[1];
}

/** Anyone may call; a token, if sent, must be valid and tells who is asking (admins see more). */
export const viewerProcedure = publicProcedure.meta({ access: 'viewer' }).use(async ({ ctx, next }) => {
  if (!ctx.authorization) return next({ ctx: { ...ctx, user: null } });
  const user = await ctx.deps.tokens.verifyAccess(bearerToken(ctx.authorization));
  return next({ ctx: { ...ctx, user } });
});

export const protectedProcedure = publicProcedure.meta({ access: 'user' }).use(async ({ ctx, next }) => {
  if (!ctx.authorization)
    throw new DomainError('UNAUTHENTICATED', 'Sign in first: send Authorization: Bearer <access token>');
  const user = await ctx.deps.tokens.verifyAccess(bearerToken(ctx.authorization));
  return next({ ctx: { ...ctx, user } });
});

export const adminProcedure = protectedProcedure.meta({ access: 'admin' }).use(async ({ ctx, next }) => {
  if (ctx.user.role !== 'admin') throw new DomainError('FORBIDDEN', 'Only admins may do this');
  return next({ ctx });
});

/**
 * Door staff (granted per event by an admin, modules/checkin) and admins. This gate refuses users
 * who are staff of no event; the check-in service then checks the event asked about.
 */
export const staffProcedure = protectedProcedure.meta({ access: 'staff' }).use(async ({ ctx, next }) => {
  if (ctx.user.role !== 'admin' && !(await isDoorStaffAnywhere(ctx.em, ctx.user.id)))
    throw new DomainError('FORBIDDEN', 'Only door staff and admins may do this');
  return next({ ctx });
});
