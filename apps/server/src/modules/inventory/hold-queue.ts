import type { EntityManager } from '@boxoffice/db';
import { ConstraintViolationException } from '@mikro-orm/core';
import {
  type BatchedTake,
  type BatchedTakeResult,
  releaseLapsedHolds,
  type TakeRequest,
  type TakeResult,
  takeTicketsTogether,
} from './ledger.ts';

/**
 * Holds for one event, batched in this process. Every hold on an event serialises on that event's
 * row lock, so a hot on-sale is as fast as one row's transactions, however many connections wait
 * on it. Here, while a transaction for an event is in flight, the holds that arrive for it wait in
 * arrival order and all go into the next one (`takeTicketsTogether`: one lock, one update of the
 * counts, one multi-row insert), each with its own answer. A hold for an idle event starts at once:
 * nothing waits for a timer, so the batches grow only as large as the load makes them.
 *
 * Each instance batches its own requests; between instances the row lock and the database's
 * constraints stay the arbiter, as they are for single holds.
 *
 * Hand-written because what it needs is small and specific: batches keyed by event, one in flight
 * per key, the next one started the moment the previous commits. Batching libraries (DataLoader and
 * the like) collect a tick's worth of calls and run batches of one key concurrently.
 */
export type HoldQueue = {
  /** `takeTickets`, batched with the other holds for the same event. */
  take(request: TakeRequest): Promise<TakeResult>;
};

export type HoldQueueOptions = {
  /** A fresh EntityManager for each batch's transaction. */
  fork: () => EntityManager;
  /** The most requests one transaction takes; the rest wait for the next. */
  maxBatch?: number;
  /** Told the size of every batch as it starts (metrics, tests). */
  onBatch?: (eventId: string, size: number) => void;
};

type Waiting = {
  request: BatchedTake;
  resolve: (result: BatchedTakeResult) => void;
  reject: (error: unknown) => void;
};

const MAX_BATCH = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createHoldQueue({ fork, maxBatch = MAX_BATCH, onBatch }: HoldQueueOptions): HoldQueue {
  /** Present while a batch for the event is in flight: the requests waiting for the next one. */
  const waitingFor = new Map<string, Waiting[]>();

  const submit = (request: BatchedTake) =>
    new Promise<BatchedTakeResult>((resolve, reject) => {
      // ids go into the batch's statements as values of uuid columns: one that is not would fail them all
      if (!UUID.test(request.userId) || !UUID.test(request.eventId)) {
        reject(new Error('a hold needs a user id and an event id that are UUIDs'));
        return;
      }
      const waiting = { request, resolve, reject };
      const queue = waitingFor.get(request.eventId);
      if (queue) {
        queue.push(waiting);
        return;
      }
      waitingFor.set(request.eventId, []);
      void drain(request.eventId, [waiting]);
    });

  /** Runs batches for one event back to back until nobody is waiting. Never throws. */
  async function drain(eventId: string, first: Waiting[]) {
    let batch = first;
    for (;;) {
      await book(eventId, batch);
      const queue = waitingFor.get(eventId) as Waiting[];
      if (queue.length === 0) {
        waitingFor.delete(eventId);
        return;
      }
      batch = queue.splice(0, maxBatch);
    }
  }

  async function book(eventId: string, batch: Waiting[]): Promise<void> {
    try {
      onBatch?.(eventId, batch.length);
      const results = await takeTicketsTogether(
        fork(),
        eventId,
        batch.map((waiting) => waiting.request),
      );
      batch.forEach((waiting, i) => {
        waiting.resolve(results[i] as BatchedTakeResult);
      });
    } catch (error) {
      // one request's data broke a constraint (a buyer deleted meanwhile, say): alone, only it fails
      if (batch.length > 1 && error instanceof ConstraintViolationException) {
        for (const waiting of batch) await book(eventId, [waiting]);
        return;
      }
      // the database failed the transaction: every request in it gets that answer
      for (const waiting of batch) waiting.reject(error);
    }
  }

  return {
    async take(request) {
      const first = await submit({ ...request, mayRetry: true });
      if (!first.ok && first.retryAfterReleasingOwnHold) {
        // the buyer's open hold lapsed, possibly for another event: released on its own (lock order)
        if ((await releaseLapsedHolds(fork(), { userId: request.userId }, request.now)) > 0)
          return answer(await submit({ ...request, mayRetry: false }));
      }
      return answer(first);
    },
  };
}

function answer(result: BatchedTakeResult): TakeResult {
  const { retryAfterReleasingOwnHold: _, ...rest } = result;
  return rest as TakeResult;
}
