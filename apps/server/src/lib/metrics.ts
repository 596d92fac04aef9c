import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from '../logger.ts';

/** One PayPal round trip as the gateway saw it: `ok`, or the failure kind it classified. */
export type PayPalCallObservation = { operation: string; result: string; seconds: number };

/** Reads a gauge's value at scrape time; `null` means "unknown now" and reports no sample. */
export type GaugeRead = () => Promise<number | null>;
/** Reads one value per label value (e.g. `{ used: 3, free: 7 }`) at scrape time. */
export type LabeledGaugeRead = () => Promise<Record<string, number> | null>;

// API latencies: a few ms for cached reads up to PayPal's multi-second round trips
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const PAYPAL_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The process's Prometheus metrics on prom-client. Each instance owns its own Registry rather than
 * the global one, so several servers in one process (tests) never collide over metric names.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly log: Pick<Logger, 'warn'> | undefined;
  private readonly failingGauges = new Set<string>();
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly holds: Counter<'outcome'>;
  private readonly paypalCalls: Counter<'operation' | 'result'>;
  private readonly paypalDuration: Histogram<'operation' | 'result'>;
  private readonly paymentAlerts: Counter<'kind'>;

  constructor(opts: { log?: Pick<Logger, 'warn'> } = {}) {
    this.log = opts.log;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'boxoffice_http_request_duration_seconds',
      help: 'Time spent answering HTTP requests, by method, matched route and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.holds = new Counter({
      name: 'boxoffice_holds_total',
      help: 'Hold attempts by outcome: held, confirmed, or the refusal code (SOLD_OUT, LIMIT_EXCEEDED, ...).',
      labelNames: ['outcome'],
      registers,
    });
    // present from the start, so rate() over them works before the first booking
    for (const outcome of ['held', 'confirmed']) this.holds.inc({ outcome }, 0);
    this.paypalCalls = new Counter({
      name: 'boxoffice_paypal_calls_total',
      help: 'Calls to PayPal (each attempt, retries included), by operation and result (ok or failure kind).',
      labelNames: ['operation', 'result'],
      registers,
    });
    this.paypalDuration = new Histogram({
      name: 'boxoffice_paypal_call_duration_seconds',
      help: 'Duration of each call to PayPal, by operation and result.',
      labelNames: ['operation', 'result'],
      buckets: PAYPAL_BUCKETS,
      registers,
    });
    this.paymentAlerts = new Counter({
      name: 'boxoffice_payment_alerts_total',
      help: 'Money our payments ledger records that PayPal cannot account for (order_missing: PayPal has no such order).',
      labelNames: ['kind'],
      registers,
    });
    this.paymentAlerts.inc({ kind: 'order_missing' }, 0);
  }

  /** Something about money needs a person: alert on any increase. */
  readonly paymentAlert = (kind: 'order_missing'): void => {
    this.paymentAlerts.inc({ kind });
  };

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status: String(status) }, seconds);
  }

  /** One hold attempt's outcome: `held`, `confirmed`, or the DomainError code that refused it. */
  holdOutcome(outcome: string): void {
    this.holds.inc({ outcome });
  }

  /** An arrow property so it can be handed to the PayPal gateway as a plain function. */
  readonly observePayPalCall = ({ operation, result, seconds }: PayPalCallObservation): void => {
    this.paypalCalls.inc({ operation, result });
    this.paypalDuration.observe({ operation, result }, seconds);
  };

  /** A gauge read at scrape time. A failing read reports no sample rather than failing the scrape. */
  gauge(name: string, help: string, read: GaugeRead): void {
    const gauge: Gauge = new Gauge({
      name,
      help,
      registers: [this.registry],
      collect: async () => {
        const value = await this.safeRead(name, read);
        if (value === null) gauge.remove({});
        else gauge.set(value);
      },
    });
  }

  /** A gauge with one label, each value read at scrape time; a failing read reports no samples. */
  labeledGauge(name: string, help: string, label: string, read: LabeledGaugeRead): void {
    const gauge: Gauge = new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [this.registry],
      collect: async () => {
        const values = await this.safeRead(name, read);
        gauge.reset();
        for (const [value, amount] of Object.entries(values ?? {})) gauge.set({ [label]: value }, amount);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  private async safeRead<T>(name: string, read: () => Promise<T | null>): Promise<T | null> {
    try {
      const value = await read();
      this.failingGauges.delete(name);
      return value;
    } catch (error) {
      // once per failure spell, and only the error's kind: messages may name hosts or users
      if (!this.failingGauges.has(name)) {
        this.failingGauges.add(name);
        const kind = (error as { code?: unknown }).code ?? (error as Error).name;
        this.log?.warn({ metric: name, error: String(kind) }, 'metric read failed; reporting no value');
      }
      return null;
    }
  }
}
