import {
  CheckinCountsSchema,
  CheckinEventListSchema,
  CheckinExportSchema,
  EventIdInputSchema,
  ScanInputSchema,
  ScanResultSchema,
  StaffInputSchema,
  StaffListSchema,
  SyncInputSchema,
  SyncResultSchema,
} from '@boxoffice/contracts';
import { z } from 'zod';
import type { Context } from '../../trpc/context.ts';
import { adminProcedure, router, staffProcedure } from '../../trpc/init.ts';
import {
  type CheckinDeps,
  checkinCounts,
  doorEvents,
  exportForScanner,
  grantStaff,
  listStaff,
  revokeStaff,
  scanTicket,
  syncScans,
} from './checkin.service.ts';

const tags = ['check-in'];

function checkinDeps(ctx: Context): CheckinDeps {
  return { em: ctx.em, signer: ctx.deps.tickets.signer, clock: ctx.deps.clock };
}

export const checkinRouter = router({
  events: staffProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/checkin/events',
        tags,
        protect: true,
        summary: 'Events I can check in',
        description: 'Door staff: the events they were granted; admins: every published event from yesterday on.',
      },
    })
    .input(z.strictObject({}))
    .output(CheckinEventListSchema)
    .query(({ ctx }) => doorEvents(checkinDeps(ctx), ctx.user)),

  scan: staffProcedure
    .meta({
      errors: ['EVENT_NOT_FOUND'],
      openapi: {
        method: 'POST',
        path: '/checkin/events/{eventId}/scan',
        tags,
        protect: true,
        summary: 'Scan a ticket',
        description:
          'ADMITTED the first time (time and scanner recorded), then ALREADY_ADMITTED with the first time; VOID ' +
          'for a refunded or cancelled ticket, WRONG_EVENT for another event’s, INVALID_CODE for anything else. ' +
          'Door staff of the event and admins only.',
      },
    })
    .input(ScanInputSchema)
    .output(ScanResultSchema)
    .mutation(({ ctx, input }) => scanTicket(checkinDeps(ctx), ctx.user, input)),

  sync: staffProcedure
    .meta({
      errors: ['EVENT_NOT_FOUND'],
      openapi: {
        method: 'POST',
        path: '/checkin/events/{eventId}/sync',
        tags,
        protect: true,
        summary: 'Upload offline scans',
        description: 'Scans a scanner made offline; a ticket’s admission is its earliest scan, online or offline.',
      },
    })
    .input(SyncInputSchema)
    .output(SyncResultSchema)
    .mutation(({ ctx, input }) => syncScans(checkinDeps(ctx), ctx.user, input)),

  export: staffProcedure
    .meta({
      errors: ['EVENT_NOT_FOUND'],
      openapi: {
        method: 'GET',
        path: '/checkin/events/{eventId}/export',
        tags,
        protect: true,
        summary: 'Everything to check in offline',
        description: 'The public key that verifies ticket codes, and every ticket of the event with its state.',
      },
    })
    .input(EventIdInputSchema)
    .output(CheckinExportSchema)
    .query(({ ctx, input }) => exportForScanner(checkinDeps(ctx), ctx.user, input.eventId)),

  counts: staffProcedure
    .meta({
      errors: ['EVENT_NOT_FOUND'],
      openapi: {
        method: 'GET',
        path: '/checkin/events/{eventId}/counts',
        tags,
        protect: true,
        summary: 'Sold, admitted, still to come',
      },
    })
    .input(EventIdInputSchema)
    .output(CheckinCountsSchema)
    .query(({ ctx, input }) => checkinCounts(checkinDeps(ctx), ctx.user, input.eventId)),

  listStaff: adminProcedure
    .meta({
      errors: ['EVENT_NOT_FOUND'],
      openapi: {
        method: 'GET',
        path: '/events/{eventId}/staff',
        tags,
        protect: true,
        summary: "An event's door staff",
      },
    })
    .input(EventIdInputSchema)
    .output(StaffListSchema)
    .query(({ ctx, input }) => listStaff(ctx.em, input.eventId)),

  grantStaff: adminProcedure
    .meta({
      errors: ['EVENT_NOT_FOUND', 'USER_NOT_FOUND'],
      openapi: {
        method: 'POST',
        path: '/events/{eventId}/staff',
        tags,
        protect: true,
        summary: 'Make a user door staff of an event',
      },
    })
    .input(StaffInputSchema)
    .output(StaffListSchema)
    .mutation(({ ctx, input }) => grantStaff(ctx.em, ctx.user, input, ctx.deps.clock.now())),

  revokeStaff: adminProcedure
    .meta({
      errors: ['EVENT_NOT_FOUND'],
      openapi: {
        method: 'POST',
        path: '/events/{eventId}/staff/revoke',
        tags,
        protect: true,
        summary: 'Take door staff rights away',
      },
    })
    .input(StaffInputSchema)
    .output(StaffListSchema)
    .mutation(({ ctx, input }) => revokeStaff(ctx.em, input)),
});
