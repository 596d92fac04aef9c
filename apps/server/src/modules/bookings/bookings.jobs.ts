import type { MikroORM } from '@boxoffice/db';
import type { JobHandlers } from '../../jobs/tasks.ts';
import type { Clock } from '../../lib/clock.ts';
import { releaseHold } from '../inventory/ledger.ts';

/** The bookings side's jobs: a hold's timer running out. */
export function bookingJobs(deps: { orm: MikroORM; clock: Clock }): Pick<JobHandlers, 'expire-hold'> {
  return {
    // only a hold that has lapsed by now is released, so a late, repeated or outdated run changes nothing
    'expire-hold': async ({ bookingId }) => {
      await releaseHold(deps.orm.em.fork(), bookingId, 'EXPIRED', deps.clock.now(), { onlyIfLapsed: true });
    },
  };
}
