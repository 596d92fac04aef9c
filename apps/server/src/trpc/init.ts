import { DomainError } from '@boxoffice/contracts';
import { initTRPC } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { toDomainError, toTRPCError } from '../errors.ts';
import type { Context } from './context.ts';

const t = initTRPC
  .context<Context>()
  .meta<OpenApiMeta>()
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

/** Domain errors leave procedures as TRPCErrors carrying the domain code. */
const domainErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof DomainError) {
    const mapped = toTRPCError(result.error.cause);
    return { ...result, error: mapped };
  }
  return result;
});

export const publicProcedure = t.procedure.use(domainErrors);

export const protectedProcedure = publicProcedure.use(async ({ ctx, next }) => {
  const header = ctx.authorization;
  if (!header) throw new DomainError('UNAUTHENTICATED', 'Sign in first: send Authorization: Bearer <access token>');
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) throw new DomainError('INVALID_TOKEN', 'Authorization header must be "Bearer <access token>"');
  const user = await ctx.deps.tokens.verifyAccess(match[1]);
  return next({ ctx: { ...ctx, user } });
});

export const adminProcedure = protectedProcedure.use(async ({ ctx, next }) => {
  if (ctx.user.role !== 'admin') throw new DomainError('FORBIDDEN', 'Only admins may do this');
  return next({ ctx });
});
