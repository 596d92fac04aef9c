import type { EventEmitter } from 'node:events';
import { type ServerOptions, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { DomainError, type ErrorCode } from '@boxoffice/contracts';
import { errorBody } from './errors.ts';

/** What node's parser reports about a request it could not read, in our codes. */
function classify(code: string | undefined): { code: ErrorCode; message: string } {
  if (code === 'HPE_HEADER_OVERFLOW') return { code: 'HEADERS_TOO_LARGE', message: 'Request headers too large' };
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'ERR_HTTP_HEADERS_TIMEOUT')
    return { code: 'REQUEST_TIMEOUT', message: 'The request took too long to arrive' };
  return { code: 'MALFORMED_REQUEST', message: 'Malformed HTTP request' };
}

/**
 * Node answers requests it cannot parse (huge headers, garbage, a request that never finishes)
 * itself, with an empty body. This answers them in the API's error shape instead, then closes.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  // the peer is gone, or a response is already under way: nothing sensible can be written
  const busy = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (error.code === 'ECONNRESET' || !socket.writable || busy) {
    socket.destroy();
    return;
  }
  const { code, message } = classify(error.code);
  const failure = new DomainError(code, message);
  const body = JSON.stringify(errorBody(failure));
  socket.end(
    [
      `HTTP/1.1 ${failure.status} ${STATUS_CODES[failure.status] ?? 'Error'}`,
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Cache-Control: no-store',
      'Connection: close',
      '',
      body,
    ].join('\r\n'),
  );
}

/** Node server options for the listener: how long a client may take to send a request. */
export function httpServerOptions(limits: { headersTimeoutMs: number; requestTimeoutMs: number }): ServerOptions {
  return {
    requestTimeout: limits.requestTimeoutMs,
    // node refuses a headers timeout longer than the request timeout
    headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
    // how often those timeouts are checked; node's default (30 s) would let them overrun by as much
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  };
}

/** Takes over node's answer to unparseable requests on this listener. */
export function handleClientErrors(server: EventEmitter): void {
  server.on('clientError', answerClientError);
}
