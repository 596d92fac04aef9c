import {
  JoinWaitlistInputSchema,
  WaitlistEntrySchema,
  WaitlistEventInputSchema,
  WaitlistStateInputSchema,
  WaitlistStateSchema,
} from '@boxoffice/contracts';
import type { Context } from '../../trpc/context.ts';
import { adminProcedure, protectedProcedure, router } from '../../trpc/init.ts';
import { joinWaitlist, leaveWaitlist, myWaitlistEntry, type WaitlistDeps, waitlistState } from './waitlist.service.ts';

const tags = ['on-sale'];

function waitlistDeps(ctx: Context): WaitlistDeps {
  return { ...ctx.deps.waitlist, em: ctx.em };
}

export const waitlistRouter = router({
  join: protectedProcedure
    .meta({
      errors: ['EVENT_NOT_FOUND', 'EVENT_NOT_ON_SALE', 'EVENT_PAST', 'LIMIT_EXCEEDED', 'WAITLIST_NOT_OPEN'],
      openapi: {
        method: 'POST',
        path: '/events/{eventId}/waitlist',
        tags,
        protect: true,
        summary: "Join a sold-out event's waitlist",
        description:
          'When tickets come back (a hold lapses, a cancel, a refund), the first buyer in line whose quantity ' +
          'fits gets an offer: the tickets held for them, with its own expiry, and a mail with the payment link. ' +
          'Unpaid in time, the offer passes to the next in line. Joining again answers with the same entry.',
      },
    })
    .input(JoinWaitlistInputSchema)
    .output(WaitlistEntrySchema)
    .mutation(({ ctx, input }) => joinWaitlist(waitlistDeps(ctx), ctx.user, input)),

  mine: protectedProcedure
    .meta({
      errors: ['WAITLIST_ENTRY_NOT_FOUND'],
      openapi: {
        method: 'GET',
        path: '/events/{eventId}/waitlist',
        tags,
        protect: true,
        summary: 'My place on the waitlist',
      },
    })
    .input(WaitlistEventInputSchema)
    .output(WaitlistEntrySchema)
    .query(({ ctx, input }) => myWaitlistEntry(waitlistDeps(ctx), ctx.user, input.eventId)),

  leave: protectedProcedure
    .meta({
      errors: ['WAITLIST_ENTRY_NOT_FOUND'],
      openapi: {
        method: 'POST',
        path: '/events/{eventId}/waitlist/leave',
        tags,
        protect: true,
        summary: 'Leave the waitlist',
        description: 'An open offer is given up with it, and its tickets go to the next in line.',
      },
    })
    .input(WaitlistEventInputSchema)
    .output(WaitlistEntrySchema)
    .mutation(({ ctx, input }) => leaveWaitlist(waitlistDeps(ctx), ctx.user, input.eventId)),

  state: adminProcedure
    .meta({
      errors: ['EVENT_NOT_FOUND', 'INVALID_CURSOR'],
      openapi: {
        method: 'GET',
        path: '/admin/events/{eventId}/waitlist',
        tags,
        protect: true,
        summary: "An event's waitlist: counts and entries (admin)",
      },
    })
    .input(WaitlistStateInputSchema)
    .output(WaitlistStateSchema)
    .query(({ ctx, input }) => waitlistState(waitlistDeps(ctx), input)),
});
