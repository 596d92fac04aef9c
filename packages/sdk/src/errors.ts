import type { ErrorCode } from '@boxoffice/contracts';
import { TRPCClientError } from '@trpc/client';

export type { ErrorCode };

/** One field at fault in a rejected input: `path` is its dotted location, e.g. `quantity`. */
export type FieldIssue = { path: string; message: string; code: string };

export type BoxofficeErrorInit = {
  code: ErrorCode;
  status: number;
  message: string;
  details?: unknown;
  /** The procedure that failed, e.g. `bookings.create`. */
  procedure?: string;
  cause?: unknown;
};

/**
 * The server refused a call. `code` is one of the API's error codes (`SOLD_OUT`,
 * `HOLD_ALREADY_OPEN`, `VALIDATION_FAILED`, ...), `status` the HTTP status it comes with.
 */
export class BoxofficeError extends Error {
  override readonly name = 'BoxofficeError';
  readonly code: ErrorCode;
  readonly status: number;
  /** Machine-readable facts about the refusal, e.g. `{ available: 1 }` with `SOLD_OUT`. */
  readonly details: unknown;
  /** The fields at fault when the input was rejected (`VALIDATION_FAILED`); empty otherwise. */
  readonly issues: readonly FieldIssue[];
  readonly procedure: string | undefined;

  constructor(init: BoxofficeErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status;
    this.details = init.details;
    this.issues = issuesOf(init.details);
    this.procedure = init.procedure;
  }
}

/**
 * The call got no answer in the API's shape: the network failed, the server could not be reached,
 * or something between answered instead (a proxy's error page). The request may or may not have
 * reached the server.
 */
export class BoxofficeNetworkError extends Error {
  override readonly name = 'BoxofficeNetworkError';
  /** The HTTP status, when something answered. */
  readonly status: number | undefined;
  readonly procedure: string | undefined;

  constructor(message: string, init: { status?: number; procedure?: string; cause?: unknown } = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.procedure = init.procedure;
  }
}

/**
 * True when the server refused the call; with `code`, only for that code (or one of those codes).
 * Narrows `error`, so `error.code`, `error.details` and `error.issues` are typed afterwards.
 */
export function isBoxofficeError<C extends ErrorCode = ErrorCode>(
  error: unknown,
  code?: C | readonly C[],
): error is BoxofficeError & { code: C } {
  if (!(error instanceof BoxofficeError)) return false;
  if (code === undefined) return true;
  return (typeof code === 'string' ? [code] : code).includes(error.code as C);
}

function issuesOf(details: unknown): FieldIssue[] {
  const issues = (details as { issues?: unknown } | null | undefined)?.issues;
  if (!Array.isArray(issues)) return [];
  return issues.filter(
    (issue): issue is FieldIssue =>
      typeof issue === 'object' && issue !== null && typeof (issue as FieldIssue).path === 'string',
  );
}

type ErrorData = { code?: unknown; httpStatus?: unknown; details?: unknown; path?: unknown };
type RestErrorBody = { error?: { code?: unknown; message?: unknown; details?: unknown } };

/**
 * What a failed tRPC call becomes: a BoxofficeError when the server answered with one of its
 * errors (the tRPC error shape, or the REST shape that the HTTP layer answers with before a
 * procedure runs, e.g. 413), a BoxofficeNetworkError otherwise.
 */
export function toBoxofficeError(error: unknown, procedure: string): BoxofficeError | BoxofficeNetworkError {
  if (error instanceof BoxofficeError || error instanceof BoxofficeNetworkError) return error;
  if (error instanceof TRPCClientError) {
    const data = error.data as ErrorData | undefined;
    if (typeof data?.code === 'string')
      return new BoxofficeError({
        code: data.code as ErrorCode,
        status: typeof data.httpStatus === 'number' ? data.httpStatus : 500,
        message: error.message,
        details: data.details,
        procedure,
        cause: error,
      });
    const meta = error.meta as { response?: { status?: unknown }; responseJSON?: unknown } | undefined;
    const status = typeof meta?.response?.status === 'number' ? meta.response.status : undefined;
    const rest = (meta?.responseJSON as RestErrorBody | undefined)?.error;
    if (status !== undefined && typeof rest?.code === 'string')
      return new BoxofficeError({
        code: rest.code as ErrorCode,
        status,
        message: typeof rest.message === 'string' ? rest.message : error.message,
        details: rest.details,
        procedure,
        cause: error,
      });
    return new BoxofficeNetworkError(error.message, {
      ...(status === undefined ? {} : { status }),
      procedure,
      cause: error.cause ?? error,
    });
  }
  return new BoxofficeNetworkError(error instanceof Error ? error.message : String(error), { procedure, cause: error });
}
