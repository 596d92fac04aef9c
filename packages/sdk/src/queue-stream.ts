import type { RouterOutputs } from './client.ts';
import { BoxofficeError, BoxofficeNetworkError, type ErrorCode } from './errors.ts';

/** Where a buyer stands in an event's waiting room (`client.queue.status`). */
export type QueueStatus = RouterOutputs['queue']['status'];
/** A buyer's place on an event's waitlist (`client.waitlist.mine`). */
export type WaitlistEntry = RouterOutputs['waitlist']['mine'];

export type QueueStreamOptions = {
  /** Where the server runs, e.g. `http://localhost:3000`. */
  baseUrl: string;
  eventId: string;
  /** The buyer's access token, or a function that returns a current one. */
  accessToken: string | (() => string | Promise<string>);
  /** Called with the status now and on every change. */
  onStatus: (status: QueueStatus) => void;
  signal?: AbortSignal;
  fetch?: typeof globalThis.fetch;
};

/**
 * Follows `GET /api/events/{eventId}/queue/stream` (server-sent events) until the server ends it,
 * when nothing more can change for the buyer (booked, expired, sold out, closed), or `signal`
 * aborts. The token goes in the Authorization header, which a browser's EventSource cannot send:
 * this reads the stream with fetch instead. Resolves with the last status; a refusal (no room,
 * a bad token) rejects with a BoxofficeError.
 */
export async function streamQueueStatus(options: QueueStreamOptions): Promise<QueueStatus | null> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const token = typeof options.accessToken === 'function' ? await options.accessToken() : options.accessToken;
  const url = `${options.baseUrl.replace(/\/+$/, '')}/api/events/${encodeURIComponent(options.eventId)}/queue/stream`;
  let response: Response;
  try {
    response = await doFetch(url, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: options.signal,
    });
  } catch (cause) {
    if (options.signal?.aborted) return null;
    throw new BoxofficeNetworkError('The waiting-room stream could not be reached', {
      procedure: 'queue.stream',
      cause,
    });
  }
  if (!response.ok || !response.body) {
    const body = (await response.json().catch(() => null)) as {
      error?: { code: ErrorCode; message: string; details?: unknown };
    } | null;
    throw new BoxofficeError({
      code: body?.error?.code ?? 'INTERNAL',
      message: body?.error?.message ?? `The waiting-room stream answered ${response.status}`,
      status: response.status,
      details: body?.error?.details,
      procedure: 'queue.stream',
    });
  }
  let last: QueueStatus | null = null;
  let buffered = '';
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return last;
      buffered += value;
      for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n');
        if (!data) continue;
        last = JSON.parse(data) as QueueStatus;
        options.onStatus(last);
      }
    }
  } catch (error) {
    if (options.signal?.aborted) return last;
    throw error;
  }
}
