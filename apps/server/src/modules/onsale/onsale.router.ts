import {
  ConfigureWaitingRoomInputSchema,
  QueueEventInputSchema,
  QueueStatusSchema,
  WaitingRoomSchema,
  WaitingRoomStateInputSchema,
  WaitingRoomStateSchema,
} from '@boxoffice/contracts';
import type { Context } from '../../trpc/context.ts';
import { adminProcedure, protectedProcedure, router } from '../../trpc/init.ts';
import {
  configureWaitingRoom,
  joinQueue,
  queueStatus,
  type WaitingRoomDeps,
  waitingRoomState,
} from './waiting-room.service.ts';

const tags = ['on-sale'];

function roomDeps(ctx: Context): WaitingRoomDeps {
  return { ...ctx.deps.waitingRoom, em: ctx.em };
}

export const queueRouter = router({
  join: protectedProcedure
    .meta({
      errors: ['WAITING_ROOM_NOT_FOUND', 'QUEUE_NOT_OPEN', 'EVENT_NOT_ON_SALE', 'SOLD_OUT', 'SALES_ENDED'],
      openapi: {
        method: 'POST',
        path: '/events/{eventId}/queue',
        tags,
        protect: true,
        summary: "Join an event's waiting room",
        description:
          'One place per account: joining again answers with the same place. Everyone who joins before ' +
          '`salesStartAt` is put in a random order at the opening (arriving early gives no edge); later arrivals ' +
          'queue behind them in arrival order.',
      },
    })
    .input(QueueEventInputSchema)
    .output(QueueStatusSchema)
    .mutation(({ ctx, input }) => joinQueue(roomDeps(ctx), ctx.user, input.eventId)),

  status: protectedProcedure
    .meta({
      errors: ['WAITING_ROOM_NOT_FOUND'],
      openapi: {
        method: 'GET',
        path: '/events/{eventId}/queue',
        tags,
        protect: true,
        summary: 'My place in the waiting room',
        description:
          'Position, buyers ahead, an estimated wait and, once admitted, the admission and its expiry. Cheap to ' +
          'poll: it writes nothing, and answers carry an `ETag`; send it back in `If-None-Match` to get 304 while ' +
          'nothing changed. `GET /api/events/{eventId}/queue/stream` pushes the same status as server-sent events.',
      },
    })
    .input(QueueEventInputSchema)
    .output(QueueStatusSchema)
    .query(({ ctx, input }) => queueStatus(roomDeps(ctx), ctx.user, input.eventId)),

  configure: adminProcedure
    .meta({
      errors: ['EVENT_NOT_FOUND', 'EVENT_NOT_EDITABLE', 'WAITING_ROOM_LOCKED'],
      openapi: {
        method: 'POST',
        path: '/admin/events/{eventId}/waiting-room',
        tags,
        protect: true,
        summary: "Open or remove an event's waiting room (admin)",
        description:
          'Works from the event’s `salesStartAt` (without one the room waits for it). Buyers may join from ' +
          '`leadMinutes` before it; while the room is open ' +
          'and the sale has started, booking needs an admission (403 ADMISSION_REQUIRED / ADMISSION_EXPIRED).',
      },
    })
    .input(ConfigureWaitingRoomInputSchema)
    .output(WaitingRoomSchema)
    .mutation(({ ctx, input }) => configureWaitingRoom(roomDeps(ctx), input)),

  state: adminProcedure
    .meta({
      errors: ['WAITING_ROOM_NOT_FOUND', 'INVALID_CURSOR'],
      openapi: {
        method: 'GET',
        path: '/admin/events/{eventId}/waiting-room',
        tags,
        protect: true,
        summary: "An event's waiting room: counts and entries (admin)",
      },
    })
    .input(WaitingRoomStateInputSchema)
    .output(WaitingRoomStateSchema)
    .query(({ ctx, input }) => waitingRoomState(roomDeps(ctx), input)),
});
