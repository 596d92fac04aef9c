import { z } from 'zod';

/**
 * Every machine-readable error code the API can answer with, and its HTTP status.
 * Domain code throws `DomainError(code)`; the server maps codes to statuses here and nowhere else.
 */
export const errorStatus = {
  VALIDATION_FAILED: 400,
  WEBHOOK_SIGNATURE_INVALID: 400,
  MALFORMED_REQUEST: 400,
  INVALID_QUANTITY: 400,
  INVALID_CURSOR: 400,
  EVENT_IN_PAST: 400,
  ADDRESS_NOT_FOUND: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  INVALID_TOKEN: 401,
  FORBIDDEN: 403,
  SALES_NOT_OPEN: 403,
  SALES_ENDED: 403,
  ADMISSION_REQUIRED: 403,
  ADMISSION_EXPIRED: 403,
  NOT_FOUND: 404,
  EVENT_NOT_FOUND: 404,
  BOOKING_NOT_FOUND: 404,
  TICKET_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  WAITING_ROOM_NOT_FOUND: 404,
  WAITLIST_ENTRY_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  EMAIL_TAKEN: 409,
  EVENT_NOT_ON_SALE: 409,
  HOLD_ALREADY_OPEN: 409,
  SOLD_OUT: 409,
  LIMIT_EXCEEDED: 409,
  CAPACITY_BELOW_RESERVED: 409,
  BOOKING_NOT_CANCELLABLE: 409,
  BOOKING_NOT_PAYABLE: 409,
  BOOKING_NOT_REFUNDABLE: 409,
  BOOKING_ALREADY_REFUNDED: 409,
  EVENT_NOT_EDITABLE: 409,
  TICKET_NOT_EDITABLE: 409,
  EVENT_VERSION_CONFLICT: 409,
  IDEMPOTENCY_IN_FLIGHT: 409,
  QUEUE_NOT_OPEN: 409,
  WAITING_ROOM_LOCKED: 409,
  WAITLIST_NOT_OPEN: 409,
  EVENT_PAST: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  PAYMENT_MISMATCH: 422,
  RATE_LIMITED: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  PAYMENT_PROVIDER_ERROR: 502,
  GEOCODER_UNAVAILABLE: 503,
  NOT_READY: 503,
  WEBHOOK_NOT_CONFIGURED: 503,
  DATABASE_UNAVAILABLE: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof errorStatus;
export const errorCodes = Object.keys(errorStatus) as ErrorCode[];
export const ErrorCodeSchema = z.enum(errorCodes as [ErrorCode, ...ErrorCode[]]);

/** One field at fault in a rejected input. `path` is the dotted location, e.g. `quantity`. */
export const FieldIssueSchema = z.object({
  path: z.string(),
  message: z.string(),
  code: z.string(),
});
export type FieldIssue = z.infer<typeof FieldIssueSchema>;

/** The REST error body: `{ "error": { "code", "message", "details" } }`. */
export const ErrorBodySchema = z.object({
  error: z.object({
    code: ErrorCodeSchema,
    message: z.string(),
    details: z.unknown().optional(),
    requestId: z.string().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** A transport-neutral error with a code from `errorStatus`. */
export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.details = details;
  }
  get status(): number {
    return errorStatus[this.code];
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && value in errorStatus;
}
