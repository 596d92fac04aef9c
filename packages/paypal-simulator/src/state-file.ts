import { readFileSync, renameSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { SimState } from './state.ts';

/**
 * Keeps the simulator's state in one JSON file, so a payment link handed out before a restart still
 * works after it. Writes are debounced and atomic (a temporary file renamed over the old one);
 * `flush` writes whatever is pending, and after `close` every change is written at once.
 */

export type StateLog = { warn(data: object, message: string): void };

export type StateFile = {
  /** Marks the state changed; it is written within `debounceMs`. */
  schedule(): void;
  /** Resolves once every change so far is on disk. */
  flush(): Promise<void>;
  /** Flushes; later changes (a request still finishing) are written without delay. */
  close(): Promise<void>;
};

const Money = z.object({ currency_code: z.string(), value: z.string() });
const Refund = z.object({
  id: z.string(),
  captureId: z.string(),
  status: z.enum(['COMPLETED', 'FAILED']),
  amount: Money,
  noteToPayer: z.string().nullable(),
  createTime: z.string(),
});
const Capture = z.object({
  id: z.string(),
  orderId: z.string(),
  status: z.enum(['COMPLETED', 'PENDING', 'DECLINED', 'PARTIALLY_REFUNDED', 'REFUNDED']),
  amount: Money,
  customId: z.string().nullable(),
  invoiceId: z.string().nullable(),
  refunds: z.array(Refund),
  createTime: z.string(),
  updateTime: z.string(),
});
const Order = z.object({
  id: z.string(),
  intent: z.literal('CAPTURE'),
  status: z.enum(['CREATED', 'PAYER_ACTION_REQUIRED', 'APPROVED', 'COMPLETED', 'VOIDED']),
  referenceId: z.string(),
  amount: Money,
  customId: z.string().nullable(),
  invoiceId: z.string().nullable(),
  description: z.string().nullable(),
  softDescriptor: z.string().nullable(),
  brandName: z.string().nullable(),
  returnUrl: z.string().nullable(),
  cancelUrl: z.string().nullable(),
  paymentSourceFlow: z.boolean(),
  payer: z
    .object({
      payerId: z.string(),
      email: z.string(),
      givenName: z.string(),
      surname: z.string(),
      countryCode: z.string(),
    })
    .nullable(),
  captures: z.array(Capture),
  cancelCount: z.number().int().min(0),
  createTime: z.string(),
  updateTime: z.string(),
});
const StateSchema = z.object({
  version: z.literal(1),
  orders: z.array(Order),
  createdByRequestId: z.array(z.object({ requestId: z.string(), orderId: z.string(), expiresAt: z.number() })),
  responses: z.array(z.object({ key: z.string(), body: z.unknown(), expiresAt: z.number() })),
});

/**
 * Reads the state file at start. A missing file is a first start; an unreadable one is moved aside
 * (never deleted: it may hold the only record of a payment) and the simulator starts empty.
 */
export function loadStateFile(file: string, log?: StateLog): SimState | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let parsed: ReturnType<typeof StateSchema.safeParse> | undefined;
  try {
    parsed = StateSchema.safeParse(JSON.parse(text));
  } catch {
    // not JSON: handled below like a file of the wrong shape
  }
  if (parsed?.success) return parsed.data as SimState;
  const aside = `${file}.unreadable-${Date.now()}`;
  renameSync(file, aside);
  log?.warn({ file, movedTo: aside }, 'PayPal simulator state file was unreadable; starting with no orders');
  return null;
}

export function createStateFile(opts: {
  file: string;
  snapshot: () => SimState;
  debounceMs?: number;
  log?: StateLog;
}): StateFile {
  const debounceMs = opts.debounceMs ?? 500;
  let timer: NodeJS.Timeout | undefined;
  let dirty = false;
  let closed = false;
  let writes: Promise<void> = Promise.resolve();
  let sequence = 0;

  async function write(): Promise<void> {
    if (!dirty) return;
    dirty = false;
    // taken when the write starts, so a change made while it runs marks the state dirty again
    const text = `${JSON.stringify(opts.snapshot())}\n`;
    sequence += 1;
    const temporary = `${opts.file}.${process.pid}.${sequence}.tmp`;
    try {
      await mkdir(path.dirname(opts.file), { recursive: true });
      await writeFile(temporary, text, { mode: 0o600 });
      await rename(temporary, opts.file);
    } catch (error) {
      dirty = true;
      opts.log?.warn({ err: error, file: opts.file }, 'PayPal simulator state could not be saved');
    }
  }

  /** One write at a time, in order: a later snapshot never lands under an earlier one. */
  const enqueue = () => {
    writes = writes.then(write);
    return writes;
  };

  const flush = () => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    return enqueue();
  };

  return {
    schedule() {
      dirty = true;
      if (closed) {
        void enqueue();
        return;
      }
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        void enqueue();
      }, debounceMs);
      timer.unref();
    },
    flush,
    async close() {
      closed = true;
      await flush();
    },
  };
}
