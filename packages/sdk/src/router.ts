import type { AppRouter as ServerRouter } from '@boxoffice/server/router';
import type { AnyTRPCRouter, TRPCBuiltRouter, TRPCMutationProcedure, TRPCQueryProcedure } from '@trpc/server';

/*
 * The router as a client sees it: every procedure with its input and output, and the error shape.
 * The server's context and procedure metadata are replaced by `object`: a client never uses them,
 * and carrying them would make this package's types depend on the server's (its database, HTTP
 * framework and configuration). Each step below is a conditional type, so TypeScript resolves it
 * when it writes the declaration file and prints the result structurally: the published `.d.ts`
 * spells out the procedures instead of importing the server.
 */

type PublicProcedure<P> =
  P extends TRPCQueryProcedure<infer D>
    ? TRPCQueryProcedure<{ input: D['input']; output: D['output']; meta: object }>
    : P extends TRPCMutationProcedure<infer D>
      ? TRPCMutationProcedure<{ input: D['input']; output: D['output']; meta: object }>
      : never;

type PublicRecord<R> = R extends object
  ? {
      [K in keyof R]: R[K] extends { _def: { procedure: true } } ? PublicProcedure<R[K]> : PublicRecord<R[K]>;
    }
  : never;

type PublicRouter<R extends AnyTRPCRouter> = R extends unknown
  ? TRPCBuiltRouter<
      {
        ctx: object;
        meta: object;
        errorShape: R['_def']['_config']['$types']['errorShape'];
        transformer: R['_def']['_config']['$types']['transformer'];
      },
      PublicRecord<R['_def']['record']>
    >
  : never;

declare function typeOf<T>(): T;

// Never called (and so dropped from the bundle): its inferred return type is what the declaration
// file writes out in full.
function publicRouter() {
  return typeOf<PublicRouter<ServerRouter>>();
}

/** The Boxoffice API's procedures, inputs and outputs, as tRPC types. */
export type AppRouter = ReturnType<typeof publicRouter>;
