export type LoadResult = { label: string; ops: number; errors: number; seconds: number; p50: number; p99: number };

/** Runs `total` calls of `op` with `concurrency` in flight; op(i) resolves true on success. */
export async function runLoad(
  label: string,
  total: number,
  concurrency: number,
  op: (i: number) => Promise<boolean>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < total; i = next++) {
        const t0 = performance.now();
        const ok = await op(i).catch((error: unknown) => {
          if (process.env.BENCH_DEBUG) console.error(error);
          return false;
        });
        latencies.push(performance.now() - t0);
        if (!ok) errors += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { label, ops: total, errors, seconds, p50: at(0.5), p99: at(0.99) };
}

export function printTable(results: LoadResult[]): void {
  const rows = results.map((r) => [
    r.label,
    String(r.ops),
    String(r.errors),
    (r.ops / r.seconds).toFixed(0),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
  ]);
  const head = ['scenario', 'ops', 'errors', 'ops/s', 'p50 ms', 'p99 ms'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}
