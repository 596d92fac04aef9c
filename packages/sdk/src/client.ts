import { createTRPCUntypedClient, httpLink } from '@trpc/client';
import type {
  AnyTRPCMutationProcedure,
  AnyTRPCProcedure,
  AnyTRPCQueryProcedure,
  inferProcedureInput,
  inferProcedureOutput,
  inferRouterInputs,
  inferRouterOutputs,
} from '@trpc/server';
import { BoxofficeError, BoxofficeNetworkError, type ErrorCode, isBoxofficeError, toBoxofficeError } from './errors.ts';
import type { AppRouter } from './router.ts';
import { createTokenRenewal, sessionEnded, storedTokensOf } from './session.ts';
import { memoryTokenStore, type TokenStore } from './token-store.ts';

/** Every procedure's input, by path: `RouterInputs['bookings']['create']`. */
export type RouterInputs = inferRouterInputs<AppRouter>;
/** Every procedure's output, by path: `RouterOutputs['events']['list']`. */
export type RouterOutputs = inferRouterOutputs<AppRouter>;

export type Session = RouterOutputs['auth']['login'];
export type User = RouterOutputs['auth']['me'];
export type BoxofficeEvent = RouterOutputs['events']['get'];
export type EventPage = RouterOutputs['events']['list'];
export type Availability = RouterOutputs['events']['availability'];
export type Booking = RouterOutputs['bookings']['get'];
export type BookingPage = RouterOutputs['bookings']['listMine'];
export type Ticket = RouterOutputs['tickets']['setAttendee'];
export type TicketList = RouterOutputs['tickets']['listMine'];
export type ScanResult = RouterOutputs['checkin']['scan'];
export type CheckinExport = RouterOutputs['checkin']['export'];
export type CheckinCounts = RouterOutputs['checkin']['counts'];
export type SyncResult = RouterOutputs['checkin']['sync'];

export type CallOptions = {
  /** Aborts the call (and any retry of it). */
  signal?: AbortSignal;
};

type HeaderMap = Record<string, string>;

export type BoxofficeClientOptions = {
  /** Where the server runs, e.g. `http://localhost:3000`. */
  baseUrl: string;
  /** The fetch to use; the global one by default. */
  fetch?: typeof globalThis.fetch;
  /** Where the session is kept; in memory by default. See `webStorageTokenStore`. */
  tokenStore?: TokenStore;
  /** Extra headers for every request, or a function that returns them (called per request). */
  headers?: HeaderMap | (() => HeaderMap | Promise<HeaderMap>);
};

type Procedure<P extends AnyTRPCProcedure> = P extends AnyTRPCQueryProcedure
  ? { query(input: inferProcedureInput<P>, options?: CallOptions): Promise<inferProcedureOutput<P>> }
  : P extends AnyTRPCMutationProcedure
    ? { mutate(input: inferProcedureInput<P>, options?: CallOptions): Promise<inferProcedureOutput<P>> }
    : never;

type Procedures<R> = {
  [K in keyof R]: R[K] extends AnyTRPCProcedure ? Procedure<R[K]> : Procedures<R[K]>;
};

type RouterProcedures = Procedures<AppRouter['_def']['record']>;

/** Sign-in helpers that keep the session in the client's token store; `me` and the rest are plain calls. */
export type AuthClient = Omit<RouterProcedures['auth'], 'login' | 'register' | 'logout' | 'refresh'> & {
  /** Signs in and keeps the session: later calls send its access token. */
  login(input: RouterInputs['auth']['login'], options?: CallOptions): Promise<Session>;
  /** Creates the account, then signs in with it and keeps the session. */
  register(input: RouterInputs['auth']['register'], options?: CallOptions): Promise<Session>;
  /** Revokes the session at the server and forgets it here (forgotten even if the server is unreachable). */
  logout(options?: CallOptions): Promise<void>;
  /** Replaces the access token now. Calls do this by themselves when the server says it expired. */
  refresh(): Promise<void>;
};

/**
 * Every procedure of the API as `client.<area>.<procedure>.query(input)` (reads) or `.mutate(input)`
 * (changes), typed from the server's contracts. Failures are `BoxofficeError` (the server refused)
 * or `BoxofficeNetworkError` (no answer).
 */
export type BoxofficeClient = Omit<RouterProcedures, 'auth'> & {
  auth: AuthClient;
  /** The PDF of a booking's tickets (`GET /api/bookings/{bookingId}/tickets.pdf`), for its buyer or an admin. */
  ticketsPdf(bookingId: string, options?: CallOptions): Promise<Uint8Array>;
};

type ProcedureType = 'query' | 'mutation';
type LinkContext = { accessToken?: string };

/** How often `bookings.create` is sent again after a network failure, and how long it waits first. */
const BOOKING_RETRY_DELAYS_MS = [300, 1000];

function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/** The access token was refused as expired or invalid: a refreshed one may be accepted. */
function accessTokenRefused(error: unknown): boolean {
  return isBoxofficeError(error, 'INVALID_TOKEN') && error.status === 401;
}

/** A refused REST answer as the typed error; an answer not in the API's shape is a network error. */
async function restError(response: Response, procedure: string): Promise<BoxofficeError | BoxofficeNetworkError> {
  const body = (await response.json().catch(() => null)) as {
    error?: { code?: unknown; message?: unknown; details?: unknown };
  } | null;
  const rest = body?.error;
  if (typeof rest?.code !== 'string')
    return new BoxofficeNetworkError(`HTTP ${response.status} without an error body`, {
      status: response.status,
      procedure,
    });
  return new BoxofficeError({
    code: rest.code as ErrorCode,
    status: response.status,
    message: typeof rest.message === 'string' ? rest.message : `HTTP ${response.status}`,
    details: rest.details,
    procedure,
  });
}

/** Creates a client for the Boxoffice API at `baseUrl`. */
export function createBoxofficeClient(options: BoxofficeClientOptions): BoxofficeClient {
  const store = options.tokenStore ?? memoryTokenStore();
  const trpc = createTRPCUntypedClient<AppRouter>({
    links: [
      httpLink({
        url: `${options.baseUrl.replace(/\/+$/, '')}/trpc`,
        ...(options.fetch ? { fetch: options.fetch } : {}),
        headers: async ({ op }) => {
          const extra = typeof options.headers === 'function' ? await options.headers() : options.headers;
          const token = (op.context as LinkContext).accessToken;
          return { ...extra, ...(token ? { authorization: `Bearer ${token}` } : {}) };
        },
      }),
    ],
  });

  /** One request, with the given access token (or none). */
  async function send(type: ProcedureType, path: string, input: unknown, accessToken?: string, signal?: AbortSignal) {
    const context: LinkContext = accessToken ? { accessToken } : {};
    try {
      return type === 'query'
        ? await trpc.query(path, input, { context, ...(signal ? { signal } : {}) })
        : await trpc.mutation(path, input, { context, ...(signal ? { signal } : {}) });
    } catch (error) {
      throw toBoxofficeError(error, path);
    }
  }

  const renewal = createTokenRenewal(
    store,
    async (refreshToken) => (await send('mutation', 'auth.refresh', { refreshToken })) as Session,
  );

  /** A call with the session's access token; refused as expired, it is renewed once and the call sent once more. */
  async function call(type: ProcedureType, path: string, input: unknown, callOptions?: CallOptions) {
    const sent = (await store.get())?.accessToken;
    try {
      return await send(type, path, input, sent, callOptions?.signal);
    } catch (error) {
      if (!sent || !accessTokenRefused(error)) throw error;
      const renewed = await renewal.renew(sent);
      return send(type, path, input, renewed, callOptions?.signal);
    }
  }

  /**
   * Booking with an idempotency key (the caller's, or a new one), so that sending it again after a
   * network failure cannot book twice: the server answers a repeated key with the first booking.
   */
  async function createBooking(input: unknown, callOptions?: CallOptions) {
    const given = input as { idempotencyKey?: string } | undefined;
    const keyed = { ...given, idempotencyKey: given?.idempotencyKey ?? newIdempotencyKey() };
    for (let attempt = 0; ; attempt++) {
      try {
        return await call('mutation', 'bookings.create', keyed, callOptions);
      } catch (error) {
        const delay = BOOKING_RETRY_DELAYS_MS[attempt];
        // after a lost answer the first attempt may still be running: its key is "in flight" until it ends
        const retryable =
          error instanceof BoxofficeNetworkError || (attempt > 0 && isBoxofficeError(error, 'IDEMPOTENCY_IN_FLIGHT'));
        if (delay === undefined || !retryable || callOptions?.signal?.aborted) throw error;
        await wait(delay, callOptions?.signal);
      }
    }
  }

  function dispatch(method: 'query' | 'mutate', path: string, input: unknown, callOptions?: CallOptions) {
    if (path === 'bookings.create' && method === 'mutate') return createBooking(input, callOptions);
    return call(method === 'query' ? 'query' : 'mutation', path, input, callOptions);
  }

  const auth = {
    async login(input: RouterInputs['auth']['login'], callOptions?: CallOptions): Promise<Session> {
      const session = (await send('mutation', 'auth.login', input, undefined, callOptions?.signal)) as Session;
      await store.set(storedTokensOf(session));
      return session;
    },
    async register(input: RouterInputs['auth']['register'], callOptions?: CallOptions): Promise<Session> {
      await send('mutation', 'auth.register', input, undefined, callOptions?.signal);
      return auth.login({ email: input.email, password: input.password }, callOptions);
    },
    async logout(callOptions?: CallOptions): Promise<void> {
      const tokens = await store.get();
      await store.set(null);
      if (tokens)
        await send('mutation', 'auth.logout', { refreshToken: tokens.refreshToken }, undefined, callOptions?.signal);
    },
    async refresh(): Promise<void> {
      const tokens = await store.get();
      if (!tokens) throw sessionEnded();
      await renewal.renew(tokens.accessToken);
    },
  };

  /** The one binary route: plain REST with the session's token, renewed once if it expired. */
  async function ticketsPdf(bookingId: string, callOptions?: CallOptions): Promise<Uint8Array> {
    const url = `${options.baseUrl.replace(/\/+$/, '')}/api/bookings/${encodeURIComponent(bookingId)}/tickets.pdf`;
    const fetchImpl = options.fetch ?? globalThis.fetch;
    const get = async (token: string | undefined) => {
      const extra = typeof options.headers === 'function' ? await options.headers() : options.headers;
      try {
        return await fetchImpl(url, {
          headers: { ...extra, ...(token ? { authorization: `Bearer ${token}` } : {}) },
          ...(callOptions?.signal ? { signal: callOptions.signal } : {}),
        });
      } catch (error) {
        throw toBoxofficeError(error, 'ticketsPdf');
      }
    };
    const sent = (await store.get())?.accessToken;
    let response = await get(sent);
    if (response.status === 401 && sent) {
      const body = (await response
        .clone()
        .json()
        .catch(() => null)) as { error?: { code?: string } } | null;
      if (body?.error?.code === 'INVALID_TOKEN') response = await get(await renewal.renew(sent));
    }
    if (!response.ok) throw await restError(response, 'ticketsPdf');
    return new Uint8Array(await response.arrayBuffer());
  }

  function proxy(path: readonly string[]): unknown {
    return new Proxy(
      {},
      {
        get(_target, key) {
          // not a thenable, so `await client.events` does not hang
          if (typeof key !== 'string' || key === 'then') return undefined;
          if (path.length === 0 && key === 'ticketsPdf') return ticketsPdf;
          if (path.length === 1 && path[0] === 'auth' && Object.hasOwn(auth, key))
            return auth[key as keyof typeof auth];
          if (path.length > 0 && (key === 'query' || key === 'mutate'))
            return (input: unknown, callOptions?: CallOptions) => dispatch(key, path.join('.'), input, callOptions);
          return proxy([...path, key]);
        },
      },
    );
  }

  return proxy([]) as BoxofficeClient;
}
