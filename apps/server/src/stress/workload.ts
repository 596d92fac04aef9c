import type { ListeningPayPalSimulator, SimOperation } from '@boxoffice/paypal-simulator';
import type pg from 'pg';
import {
  type BoxofficeClient,
  BoxofficeNetworkError,
  createBoxofficeClient,
  isBoxofficeError,
  memoryTokenStore,
} from '../../../../packages/sdk/src/index.ts';
import type { Random } from './random.ts';

/**
 * The stress run's actors: buyers (book, pay, return twice, cancel, abandon, pay after the hold
 * lapsed), an admin (refunds, one event cancelled) and the chaos (PayPal 5xx and timeouts,
 * webhooks duplicated, delayed and reordered, database backends terminated). Buyers go through the
 * SDK (tRPC) and REST, to either server; every answer is tallied by kind and outcome.
 */

export type Figures = {
  ops: Record<string, Record<string, number>>;
  faults: Record<string, number>;
  kills: number;
  restarts: number;
  terminatedBackends: number;
  http5xx: Record<string, number>;
};

export function emptyFigures(): Figures {
  return { ops: {}, faults: {}, kills: 0, restarts: 0, terminatedBackends: 0, http5xx: {} };
}

export type Instance = { name: string; url: string; up: boolean };

export type Buyer = {
  email: string;
  accessToken: string;
  /** One SDK client per instance, sharing one session. */
  clients: BoxofficeClient[];
};

export type StressEvent = { id: string; capacity: number; maxPerOrder: number; priceMinor: number; hot: boolean };

export type Workload = {
  rng: Random;
  figures: Figures;
  instances: Instance[];
  sim: ListeningPayPalSimulator;
  side: pg.Client;
  holdTtlMs: number;
  stopping: () => boolean;
  log?: (line: string) => void;
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function tally(figures: Figures, kind: string, outcome: string): void {
  const kinds = figures.ops[kind] ?? {};
  kinds[outcome] = (kinds[outcome] ?? 0) + 1;
  figures.ops[kind] = kinds;
}

function count5xx(figures: Figures, status: number, code: string) {
  if (status < 500) return;
  const key = `${status} ${code}`;
  figures.http5xx[key] = (figures.http5xx[key] ?? 0) + 1;
}

type Answer = { status: number; body: Record<string, unknown> | undefined; location: string | null };

/** One HTTP request; a network failure is status 0, never an exception. */
async function http(
  url: string,
  init: {
    method?: string;
    token?: string;
    body?: unknown;
    headers?: Record<string, string>;
    form?: URLSearchParams;
  } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  try {
    const response = await fetch(url, {
      method: init.method ?? 'GET',
      headers,
      body: init.form ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
      redirect: 'manual',
      signal: AbortSignal.timeout(20_000),
    });
    const text = await response.text();
    let body: Record<string, unknown> | undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: response.status, body, location: response.headers.get('location') };
  } catch {
    return { status: 0, body: undefined, location: null };
  }
}

function codeOf(answer: Answer): string {
  if (answer.status === 0) return 'no answer';
  const error = answer.body?.error as { code?: string } | undefined;
  const booking = answer.body?.booking as { status?: string } | undefined;
  return error?.code ?? booking?.status ?? (answer.body?.status as string | undefined) ?? String(answer.status);
}

/** Tallies an HTTP answer as `<status> <code>`, counting 5xx. */
function record(w: Workload, kind: string, answer: Answer): void {
  const code = codeOf(answer);
  tally(w.figures, kind, answer.status === 0 ? code : `${answer.status} ${code}`);
  count5xx(w.figures, answer.status, code);
}

/** Tallies an SDK call's failure by its error code. */
function recordError(w: Workload, kind: string, error: unknown): void {
  if (isBoxofficeError(error)) {
    tally(w.figures, kind, `${error.status} ${error.code}`);
    count5xx(w.figures, error.status, error.code);
  } else if (error instanceof BoxofficeNetworkError) tally(w.figures, kind, 'no answer');
  else tally(w.figures, kind, `thrown ${(error as Error).name}`);
}

/** The same path on another instance: a load balancer may send any request to either. */
function onInstance(url: string, instance: Instance): string {
  const parsed = new URL(url);
  const base = new URL(instance.url);
  parsed.protocol = base.protocol;
  parsed.host = base.host;
  return parsed.toString();
}

function anyInstance(w: Workload): { instance: Instance; index: number } {
  const index = w.rng.int(w.instances.length);
  return { instance: w.instances[index] as Instance, index };
}

export function sdkClient(baseUrl: string, store: ReturnType<typeof memoryTokenStore>): BoxofficeClient {
  return createBoxofficeClient({ baseUrl, tokenStore: store });
}

export async function newBuyer(instances: Instance[], n: number, seed: number): Promise<Buyer> {
  const store = memoryTokenStore();
  const clients = instances.map((instance) => sdkClient(instance.url, store));
  const email = `stress-${seed}-${n}@example.test`;
  const session = await (clients[n % clients.length] as BoxofficeClient).auth.register({
    email,
    username: `stress${n}`,
    password: 'a-long-enough-password',
  });
  return { email, accessToken: session.accessToken, clients };
}

type Held = { id: string; paymentUrl: string | null; status: string };

/**
 * The on-sale moment: every buyer asks for one ticket of the free hot event at once, over both
 * instances (one batches holds, one takes each alone). A free booking is sold at once, so an
 * oversell here cannot heal later by a release: a ledger without its row lock shows it.
 */
export async function openingBurst(w: Workload, buyers: Buyer[], events: StressEvent[]): Promise<void> {
  const event = events.find((candidate) => candidate.hot && candidate.priceMinor === 0);
  if (!event) return;
  await Promise.all(
    buyers.map(async (buyer, n) => {
      const index = n % w.instances.length;
      try {
        const booking = await (buyer.clients[index] as BoxofficeClient).bookings.create.mutate({
          eventId: event.id,
          quantity: 1,
        });
        tally(w.figures, 'book (opening burst)', booking.status);
      } catch (error) {
        recordError(w, 'book (opening burst)', error);
      }
    }),
  );
}

/** book → (pay | cancel | abandon | pay after the hold lapsed) */
export async function buyerJourney(w: Workload, buyer: Buyer, events: StressEvent[]): Promise<void> {
  const { rng } = w;
  const hot = events.filter((event) => event.hot);
  const event = rng.chance(0.6) && hot.length ? rng.pick(hot) : rng.pick(events);
  // now and then one more than an order may take: LIMIT_EXCEEDED
  const quantity = 1 + rng.int(event.maxPerOrder + (rng.chance(0.05) ? 1 : 0));
  const { instance, index } = anyInstance(w);
  if (rng.chance(0.2)) await browse(w, buyer, event, index);
  let held: Held | null = null;
  if (rng.chance(0.7)) {
    try {
      const booking = await (buyer.clients[index] as BoxofficeClient).bookings.create.mutate({
        eventId: event.id,
        quantity,
      });
      tally(w.figures, 'book (sdk)', booking.status);
      held = booking;
    } catch (error) {
      recordError(w, 'book (sdk)', error);
      return;
    }
  } else {
    const answer = await http(`${instance.url}/api/events/${event.id}/book?ticket_quantity=${quantity}`, {
      method: 'POST',
      token: buyer.accessToken,
      headers: { 'idempotency-key': `stress-${rng.int(2 ** 30)}-${rng.int(2 ** 30)}` },
    });
    record(w, 'book (rest)', answer);
    if (answer.status !== 200 || !answer.body) return;
    held = answer.body as unknown as Held;
  }
  if (held.status !== 'HELD') return;
  const next = rng.weighted({ pay: 55, cancel: 12, abandon: 23, payLate: 10 });
  if (next === 'abandon') tally(w.figures, 'abandon', 'left to lapse');
  else if (next === 'cancel') await cancelHold(w, buyer, held);
  else await pay(w, held, next === 'payLate');
}

/** A look at the catalogue first (its reads are named prepared statements: through pgbouncer too). */
async function browse(w: Workload, buyer: Buyer, event: StressEvent, index: number): Promise<void> {
  const client = buyer.clients[index] as BoxofficeClient;
  const how = w.rng.pick(['list', 'get', 'availability', 'rest'] as const);
  try {
    if (how === 'list') await client.events.list.query({ limit: 20 });
    else if (how === 'get') await client.events.get.query({ eventId: event.id });
    else if (how === 'availability') await client.events.availability.query({ eventId: event.id });
    else {
      const answer = await http(`${(w.instances[index] as Instance).url}/api/events/${event.id}`);
      record(w, 'browse (rest, anonymous)', answer);
      return;
    }
    tally(w.figures, `browse (sdk ${how})`, 'ok');
  } catch (error) {
    recordError(w, `browse (sdk ${how})`, error);
  }
}

async function cancelHold(w: Workload, buyer: Buyer, held: Held): Promise<void> {
  const { index, instance } = anyInstance(w);
  if (w.rng.chance(0.6)) {
    try {
      const booking = await (buyer.clients[index] as BoxofficeClient).bookings.cancel.mutate({ bookingId: held.id });
      tally(w.figures, 'cancel (sdk)', booking.status);
    } catch (error) {
      recordError(w, 'cancel (sdk)', error);
    }
  } else {
    record(
      w,
      'cancel (rest)',
      await http(`${instance.url}/api/bookings/${held.id}/cancel`, { method: 'POST', token: buyer.accessToken }),
    );
  }
}

/** The buyer follows the payment link to PayPal, approves (or cancels there), and comes back. */
async function pay(w: Workload, held: Held, late: boolean): Promise<void> {
  const { rng } = w;
  if (!held.paymentUrl) return;
  const kind = late ? 'pay after lapse' : 'pay';
  let start: Answer | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    start = await http(onInstance(held.paymentUrl, anyInstance(w).instance), { headers: { accept: 'text/html' } });
    if (start.status === 303) break;
    const retry = start.status >= 500 || start.status === 0;
    tally(w.figures, `${kind}: start`, `${start.status || 'no answer'}${retry ? ', tried again' : ''}`);
    count5xx(w.figures, start.status, 'payment start');
    if (!retry) return;
    await sleep(300 + rng.int(700));
  }
  if (!start?.location) return;
  const approval = new URL(start.location);
  const orderId = approval.searchParams.get('token');
  if (!orderId || approval.origin !== new URL(w.sim.baseUrl).origin) {
    tally(w.figures, `${kind}: start`, '303 not to PayPal');
    return;
  }
  tally(w.figures, `${kind}: start`, '303 to PayPal');
  if (late) {
    // the buyer dawdles at PayPal past the hold's expiry: the approval comes after it lapsed
    const until = Date.now() + w.holdTtlMs + 1000 + rng.int(3000);
    while (Date.now() < until && !w.stopping()) await sleep(250);
  }
  const button = rng.chance(0.08) ? 'cancel' : 'approve';
  const pressed = await http(`${w.sim.baseUrl}/checkoutnow/${button}`, {
    method: 'POST',
    form: new URLSearchParams({ token: orderId }),
    headers: { accept: 'text/html' },
  });
  if (pressed.status !== 303 || !pressed.location) {
    tally(w.figures, `${kind}: paypal ${button}`, String(pressed.status));
    return;
  }
  if (button === 'cancel') {
    record(w, 'cancel (url)', await http(onInstance(pressed.location, anyInstance(w).instance)));
    return;
  }
  if (rng.chance(0.12)) {
    // the buyer closed the browser after approving: the webhook (or reconcile) settles it
    tally(w.figures, `${kind}: return`, 'never came back');
    return;
  }
  const visits = rng.chance(0.25) ? 2 + rng.int(3) : 1;
  const answers = await Promise.all(
    Array.from({ length: visits }, () => http(onInstance(pressed.location as string, anyInstance(w).instance))),
  );
  for (const answer of answers) record(w, visits > 1 ? `${kind}: return (parallel visits)` : `${kind}: return`, answer);
}

/** Refunds of confirmed bookings, and at one point an event cancelled with everything on it. */
export async function adminLoop(
  w: Workload,
  admin: BoxofficeClient[],
  cancellable: StressEvent[],
  untilMs: number,
): Promise<void> {
  let cancelled = false;
  const began = Date.now();
  while (!w.stopping() && Date.now() < untilMs) {
    await sleep(1200 + w.rng.int(1600));
    if (w.stopping()) return;
    const client = admin[w.rng.int(admin.length)] as BoxofficeClient;
    if (!cancelled && cancellable.length && Date.now() - began > (untilMs - began) * 0.5) {
      cancelled = true;
      const event = w.rng.pick(cancellable);
      try {
        const result = await client.events.cancel.mutate({ eventId: event.id });
        tally(w.figures, 'admin: cancel event', `ok, ${result.refundsDue} refunds due`);
      } catch (error) {
        recordError(w, 'admin: cancel event', error);
      }
      continue;
    }
    const { rows } = await w.side.query<{ id: string }>(
      `SELECT id FROM bookings WHERE status = 'CONFIRMED' AND total_minor > 0 ORDER BY random() LIMIT 1`,
    );
    const bookingId = rows[0]?.id;
    if (!bookingId) continue;
    try {
      const refund = await client.bookings.refund.mutate({ bookingId, reason: 'stress: an admin refund' });
      tally(w.figures, 'admin: refund', refund.refund?.status ?? refund.booking?.status ?? 'ok');
    } catch (error) {
      recordError(w, 'admin: refund', error);
    }
  }
}

const PAYPAL_OPERATIONS: SimOperation[] = ['token', 'createOrder', 'getOrder', 'captureOrder', 'refundCapture'];

/**
 * Terminates up to `n` of the servers' backends, those in a transaction or a statement first
 * (mid-transaction), from the side connection; returns how many died.
 */
export async function terminateBackends(side: pg.Client, n: number): Promise<number> {
  const { rows } = await side.query<{ killed: boolean }>(
    `SELECT pg_terminate_backend(pid) AS killed FROM (
       SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
        ORDER BY (state IN ('active', 'idle in transaction')) DESC, random()
        LIMIT $1) victims`,
    [n],
  );
  return rows.filter((row) => row.killed).length;
}

/** One fault every second or so, of a kind picked at random. */
export async function chaosLoop(w: Workload, untilMs: number): Promise<void> {
  const { rng, sim, figures } = w;
  const fault = (kind: string) => {
    figures.faults[kind] = (figures.faults[kind] ?? 0) + 1;
  };
  while (!w.stopping() && Date.now() < untilMs) {
    await sleep(300 + rng.int(700));
    if (w.stopping()) return;
    const stepStarted = Date.now();
    const kind = rng.weighted({
      paypal5xx: 25,
      paypalTimeout: 12,
      webhookDuplicate: 10,
      webhookDelay: 10,
      webhookReorder: 8,
      dbTerminate: 30,
    });
    const op = rng.pick(PAYPAL_OPERATIONS);
    switch (kind) {
      case 'paypal5xx': {
        const when = rng.chance(0.5) ? 'before' : 'after';
        sim.controls.failNext(op, { status: rng.pick([500, 502, 503]), when, times: 1 + rng.int(2) });
        fault(`paypal 5xx (${op}, ${when})`);
        break;
      }
      case 'paypalTimeout': {
        const when = rng.chance(0.5) ? 'before' : 'after';
        sim.controls.hangNext(op, { ms: 2500, when });
        fault(`paypal timeout (${op}, ${when})`);
        break;
      }
      case 'webhookDuplicate':
        sim.controls.duplicateWebhooks(2 + rng.int(3));
        fault('webhook duplicated');
        break;
      case 'webhookDelay':
        sim.controls.delayWebhooks(1000 + rng.int(4000), 1 + rng.int(3));
        fault('webhook delayed');
        break;
      case 'webhookReorder': {
        // held back for a while, then let out newest first (REFUNDED before COMPLETED and the like)
        sim.controls.pauseWebhooks();
        fault('webhooks reordered');
        const heldFor = 800 + rng.int(1500);
        void sleep(heldFor)
          .then(() => sim.controls.deliverWebhooks({ reverse: true }))
          .catch(() => 0)
          .finally(() => sim.controls.resumeWebhooks());
        break;
      }
      case 'dbTerminate': {
        const killed = await terminateBackends(w.side, 1 + rng.int(3)).catch(() => 0);
        figures.terminatedBackends += killed;
        fault('db backend terminated');
        break;
      }
    }
    if (Date.now() - stepStarted > 1000) w.log?.(`chaos: ${kind} took ${Date.now() - stepStarted} ms`);
  }
}
