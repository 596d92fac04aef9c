// `pnpm reconcile [--since 7d] [--repair] [--json]`: compares our bookings and payments ledger with
// PayPal's orders, captures and refunds and prints each mismatch; --repair settles them through the
// same paths as the webhooks. Exit status: 0 no mismatch left, 1 mismatches left (or PayPal did not
// answer for some bookings), 2 it could not run. Offline mode reads the built-in simulator's state
// file, so run it while the server is stopped, or ask a running server (POST /api/admin/reconcile).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { startServer } from '../server.ts';
import { formatReconcileReport, parseReconcileArgs, RECONCILE_USAGE, reconcilePayments } from './reconcile.ts';

async function main(): Promise<number> {
  for (const candidate of [path.resolve('.env'), path.resolve(import.meta.dirname, '../../../../.env')]) {
    if (existsSync(candidate)) {
      process.loadEnvFile(candidate);
      break;
    }
  }
  let args: ReturnType<typeof parseReconcileArgs>;
  let config: ReturnType<typeof loadConfig>;
  try {
    args = parseReconcileArgs(process.argv.slice(2));
    // a port of its own (the offline simulator is reached over HTTP) and no webhooks to itself
    config = loadConfig({ ...process.env, PORT: '0', LISTEN_HOST: '127.0.0.1', PAYPAL_SIMULATOR_WEBHOOKS: 'false' });
  } catch (error) {
    if (error instanceof ConfigError)
      for (const problem of error.problems) console.error(`Configuration error: ${problem}`);
    else console.error(error instanceof Error ? error.message : error, `\n${RECONCILE_USAGE}`);
    return 2;
  }
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
  // the whole composition, but no job worker: repairs schedule jobs for the running server to work
  const server = await startServer(config, { log, pollJobs: false });
  try {
    const report = await reconcilePayments(server.deps.refunds, server.deps.orm.em.fork(), args);
    if (args.json) console.log(JSON.stringify(report, null, 2));
    else for (const line of formatReconcileReport(report, args.repair)) console.log(line);
    const left = report.mismatches.filter((mismatch) => mismatch.repaired !== true).length;
    return left > 0 || report.unreachable > 0 ? 1 : 0;
  } finally {
    await server.stop();
  }
}

process.exitCode = await main().catch((error: unknown) => {
  console.error('reconcile failed:', error instanceof Error ? error.message : error);
  return 2;
});
