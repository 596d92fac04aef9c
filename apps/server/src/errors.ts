import { DomainError, type ErrorBody, type ErrorCode, type FieldIssue } from '@boxoffice/contracts';
import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { ZodError } from 'zod';

/** The one mapping from domain codes to tRPC codes (HTTP statuses come from contracts). */
const trpcCodeByStatus: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_SUPPORTED',
  408: 'TIMEOUT',
  409: 'CONFLICT',
  410: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_CONTENT',
  429: 'TOO_MANY_REQUESTS',
  500: 'INTERNAL_SERVER_ERROR',
  502: 'BAD_GATEWAY',
  503: 'SERVICE_UNAVAILABLE',
};

const domainCodeByTrpcCode: Partial<Record<TRPC_ERROR_CODE_KEY, ErrorCode>> = {
  PARSE_ERROR: 'MALFORMED_REQUEST',
  BAD_REQUEST: 'MALFORMED_REQUEST',
  UNAUTHORIZED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_SUPPORTED: 'METHOD_NOT_ALLOWED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  TOO_MANY_REQUESTS: 'RATE_LIMITED',
};

/** Transport messages we word ourselves (the adapters' own are terse or garbled). */
const fixedMessages: Partial<Record<TRPC_ERROR_CODE_KEY, string>> = {
  PARSE_ERROR: 'Malformed request body',
  UNSUPPORTED_MEDIA_TYPE: 'Send the body as JSON with Content-Type: application/json',
};

export function zodIssues(error: ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
    code: issue.code,
  }));
}

export function validationError(error: ZodError): DomainError {
  const issues = zodIssues(error);
  const fields = issues.map((issue) => issue.path).join(', ');
  return new DomainError('VALIDATION_FAILED', `Invalid input: ${fields}`, { issues });
}

/**
 * SQLSTATEs that mean "the database could not serve this now", not "this request is wrong": lost or
 * refused connections (class 08), shutdowns, too many connections, and the statement, lock and
 * idle-in-transaction timeouts that end a wait.
 */
const unavailableSqlStates = new Set(['57P01', '57P02', '57P03', '57P05', '53300', '57014', '25P03', '55P03']);
const unavailableSystemCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
// pg and pg-pool say these without a code: an acquire timeout, and a connection lost under a query
const unavailableMessages =
  /^(timeout exceeded when trying to connect|Connection terminated|Client was closed and is not queryable|Client has encountered a connection error|Connection ended while checked out|Cannot use a pool after calling end)/;

/** True when an error (or one it was caused by) says the database is unreachable or gave up waiting. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (code.startsWith('08') || unavailableSqlStates.has(code))) return true;
    if (typeof code === 'string' && unavailableSystemCodes.has(code)) return true;
    if (unavailableMessages.test(current.message)) return true;
    current = current.cause;
  }
  return false;
}

const databaseUnavailable = () =>
  new DomainError('DATABASE_UNAVAILABLE', 'The database is unavailable right now; try again shortly');

/** Classifies anything thrown into a DomainError; unknown faults become INTERNAL. */
export function toDomainError(error: unknown): DomainError {
  if (error instanceof DomainError) return error;
  if (error instanceof ZodError) return validationError(error);
  if (error instanceof TRPCError) {
    if (error.cause instanceof DomainError) return error.cause;
    if (error.cause instanceof ZodError) return validationError(error.cause);
    const code = domainCodeByTrpcCode[error.code];
    if (code) return new DomainError(code, fixedMessages[error.code] ?? error.message);
  }
  if (isDatabaseUnavailable(error)) return databaseUnavailable();
  return new DomainError('INTERNAL', 'Internal server error');
}

export function toTRPCError(error: DomainError): TRPCError {
  return new TRPCError({
    code: trpcCodeByStatus[error.status] ?? 'INTERNAL_SERVER_ERROR',
    message: error.message,
    cause: error,
  });
}

export function errorBody(error: DomainError, requestId?: string): ErrorBody {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
      ...(requestId ? { requestId } : {}),
    },
  };
}

/** Headers a client needs to act on an error (e.g. when to retry). */
export function errorHeaders(error: DomainError): Record<string, string> {
  const details = error.details as { retryAfterSeconds?: number } | undefined;
  if (error.code === 'RATE_LIMITED' && details?.retryAfterSeconds) {
    return { 'Retry-After': String(details.retryAfterSeconds) };
  }
  // worth retrying soon: a connection frees up or the database comes back
  if (error.code === 'DATABASE_UNAVAILABLE' || error.code === 'NOT_READY') return { 'Retry-After': '1' };
  return {};
}
