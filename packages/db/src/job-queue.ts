import type { MikroORM } from '@mikro-orm/postgresql';
import { Logger, runMigrations } from 'graphile-worker';
import { migrate } from './migrate.ts';

const quiet = new Logger(() => () => {});

/**
 * Runs after graphile-worker's schema exists, once (recorded like our migrations): moves the jobs
 * still pending in the table the server used before graphile-worker (a refund to retry must not be
 * lost in an upgrade), then drops it. Keys become per-task as the server now writes them; a payment
 * reconcile keeps trying for good, as it did.
 */
const CARRY_OVER = /* sql */ `
SELECT graphile_worker.add_job(
  queue, payload::json,
  run_at => run_at,
  max_attempts => CASE queue WHEN 'reconcile-payment' THEN 32767 ELSE 25 END,
  job_key => CASE WHEN dedupe_key IS NULL THEN NULL ELSE queue || ':' || dedupe_key END)
FROM jobs
WHERE done_at IS NULL AND attempts < max_attempts;
DROP TABLE jobs;
`;

/**
 * Installs or upgrades graphile-worker's own schema (`graphile_worker`, versioned by graphile-worker
 * itself and never touched by our migrations); run after ours. Safe when instances start at once.
 */
export async function migrateJobQueue(orm: MikroORM, logger: Logger = quiet): Promise<string[]> {
  await runMigrations({ connectionString: orm.config.get('clientUrl'), maxPoolSize: 1, logger });
  return migrate(orm, [{ name: 'jobs-into-graphile-worker', sql: CARRY_OVER }]);
}
