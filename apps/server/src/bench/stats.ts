/** What one scenario measured, as the table shows it and `--json` writes it. */
export type ScenarioResult = {
  name: string;
  /** Requests answered per second (holds, purchases or reads). */
  perSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Requests made, and those that failed (an error or an unexpected status). */
  requests: number;
  errors: number;
  /** Tickets promised to buyers beyond the event's capacity (hot-on-sale; must be 0). */
  oversold?: number;
  /** perSecond over the ceiling's perSecond in the same run. */
  ratioToCeiling?: number;
  /** The scenario whose perSecond `ratioToCeiling` divides by. */
  ceiling?: string;
  /** Anything else worth a column: sell-out, invariant, batch sizes... */
  notes?: string;
};

export type LatencySummary = { p50Ms: number; p95Ms: number; p99Ms: number };

/** Nearest-rank percentiles of latencies in milliseconds. */
export function summarize(latencies: number[]): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  const at = (q: number) =>
    sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0);
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return { p50Ms: round(at(0.5)), p95Ms: round(at(0.95)), p99Ms: round(at(0.99)) };
}

export function withRatio(result: ScenarioResult, ceiling: ScenarioResult | undefined): ScenarioResult {
  if (!ceiling || ceiling.perSecond === 0) return result;
  return {
    ...result,
    ratioToCeiling: Math.round((result.perSecond / ceiling.perSecond) * 100) / 100,
    ceiling: ceiling.name,
  };
}

export function printTable(results: ScenarioResult[], write: (line: string) => void = console.log): void {
  const head = [
    'scenario',
    'req/s',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'requests',
    'errors',
    'oversold',
    'x ceiling',
    'notes',
  ];
  const rows = results.map((r) => [
    r.name,
    r.perSecond.toFixed(0),
    r.p50Ms.toFixed(1),
    r.p95Ms.toFixed(1),
    r.p99Ms.toFixed(1),
    String(r.requests),
    String(r.errors),
    r.oversold === undefined ? '' : String(r.oversold),
    r.ratioToCeiling === undefined ? '' : `${r.ratioToCeiling.toFixed(2)} ${shortName(r.ceiling)}`,
    r.notes ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const left = new Set([0, 8, 9]);
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (left.has(i) ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  write(line(head));
  write(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) write(line(row));
}

/** The ceiling's name without its group, to keep the column narrow. */
function shortName(name: string | undefined): string {
  return name ? `(${name.replace(/^ceiling-/, '')})` : '';
}
