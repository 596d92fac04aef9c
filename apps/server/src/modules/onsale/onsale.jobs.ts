import type { MikroORM } from '@boxoffice/db';
import type { JobHandlers } from '../../jobs/tasks.ts';
import { offerTickets, type WaitlistConfig } from '../waitlist/waitlist.service.ts';
import { runAdmissions, type SoldOutNotice, type WaitingRoomConfig } from './waiting-room.service.ts';

/**
 * The on-sale's jobs: a waiting room's admissions (one job per event, by its key, rescheduling
 * itself while the room is open) and the waitlist's offers. Both take their event's advisory lock,
 * so a second worker running the same job at the same time waits and then finds nothing to do twice.
 */
export function onsaleJobs(deps: {
  orm: MikroORM;
  waitingRoom: WaitingRoomConfig;
  waitlist: WaitlistConfig;
  onSoldOut?: SoldOutNotice;
}): Pick<JobHandlers, 'admit-buyers' | 'waitlist-offer'> {
  return {
    'admit-buyers': async ({ eventId }) => {
      await runAdmissions({ ...deps.waitingRoom, em: deps.orm.em.fork(), onSoldOut: deps.onSoldOut }, eventId);
    },
    'waitlist-offer': async ({ eventId }) => {
      await offerTickets({ ...deps.waitlist, em: deps.orm.em.fork() }, eventId);
    },
  };
}
