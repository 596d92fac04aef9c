import type { MikroORM } from '@boxoffice/db';
import type { Clock } from '../lib/clock.ts';
import { purgeExpiredIdempotencyKeys } from '../lib/idempotency.ts';
import { FORGET_BEATS_AFTER_MS } from './leases.ts';
import type { JobHandlers } from './tasks.ts';

/**
 * Every ten minutes, on one instance (graphile-worker's crontab records each run, so instances
 * sharing the database do not repeat it); a few attempts, the next run comes soon anyway.
 */
export const HOUSEKEEPING_CRONTAB = '*/10 * * * * housekeeping ?max=3';

/**
 * Periodic clean-up: idempotency keys past their 24 hours, heartbeats of job workers long gone.
 * (Finished jobs need none: graphile-worker deletes a job when it succeeds.)
 */
export function housekeepingJobs(deps: { orm: MikroORM; clock: Clock }): Pick<JobHandlers, 'housekeeping'> {
  return {
    housekeeping: async () => {
      const em = deps.orm.em.fork();
      const now = deps.clock.now();
      await purgeExpiredIdempotencyKeys(em, now);
      await em.execute('DELETE FROM job_worker_heartbeats WHERE beat_at < ?', [
        new Date(now.getTime() - FORGET_BEATS_AFTER_MS),
      ]);
    },
  };
}
