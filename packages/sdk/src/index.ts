import type { AppRouter } from '@boxoffice/server/router';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';

export type { AppRouter };
export type BoxofficeInputs = inferRouterInputs<AppRouter>;
export type BoxofficeOutputs = inferRouterOutputs<AppRouter>;

export type BoxofficeClientOptions = {
  /** Where the server runs, e.g. `http://localhost:3000`. */
  baseUrl: string;
  /** Returns the current access token, if signed in. Called before every request. */
  accessToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** Extra headers for every request (e.g. a request id). */
  headers?: Record<string, string>;
  fetch?: typeof globalThis.fetch;
};

/** End-to-end typed client: `client.events.list.query({...})`, `client.bookings.create.mutate({...})`. */
export function createBoxofficeClient(options: BoxofficeClientOptions) {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${options.baseUrl.replace(/\/+$/, '')}/trpc`,
        maxItems: 10,
        fetch: options.fetch,
        headers: async () => {
          const token = await options.accessToken?.();
          return { ...options.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) };
        },
      }),
    ],
  });
}

export type BoxofficeClient = ReturnType<typeof createBoxofficeClient>;

/** The machine-readable code of a failed call (`SOLD_OUT`, `HOLD_ALREADY_OPEN`, ...), if any. */
export function errorCodeOf(error: unknown): BoxofficeErrorData['code'] | undefined {
  return isBoxofficeError(error) ? error.data?.code : undefined;
}

/** A failed call, with the server's error data typed from its error formatter. */
export type BoxofficeError = TRPCClientError<AppRouter>;
export type BoxofficeErrorData = NonNullable<BoxofficeError['data']>;

export function isBoxofficeError(error: unknown): error is BoxofficeError {
  return error instanceof TRPCClientError;
}

export { TRPCClientError };
