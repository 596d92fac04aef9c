import {
  AvailabilitySchema,
  CreateEventInputSchema,
  EventCancellationSchema,
  EventIdInputSchema,
  EventPageSchema,
  EventSchema,
  ListEventsInputSchema,
  RefundProgressSchema,
  UpdateEventInputSchema,
} from '@boxoffice/contracts';
import type { Context } from '../../trpc/context.ts';
import { adminProcedure, router, viewerProcedure } from '../../trpc/init.ts';
import {
  cancelEvent,
  createEvent,
  getAvailability,
  getEvent,
  getRefundProgress,
  listEvents,
  updateEvent,
} from './events.service.ts';

const tags = ['events'];

function eventsDeps(ctx: Context) {
  return { em: ctx.em, clock: ctx.deps.clock, geocoder: ctx.deps.geocoder, refunds: ctx.deps.eventRefunds };
}

/**
 * Public, but admins see more: a token is optional here, yet one that is sent must be valid,
 * so a client with an expired token learns it instead of silently seeing less.
 */
export const eventsRouter = router({
  create: adminProcedure
    .meta({
      errors: ['EVENT_IN_PAST', 'ADDRESS_NOT_FOUND', 'GEOCODER_UNAVAILABLE'],
      openapi: { method: 'POST', path: '/events', tags, summary: 'Create an event (admin)', protect: true },
    })
    .input(CreateEventInputSchema)
    .output(EventSchema)
    .mutation(({ ctx, input }) => createEvent(eventsDeps(ctx), ctx.user, input)),

  update: adminProcedure
    .meta({
      errors: [
        'EVENT_NOT_FOUND',
        'EVENT_IN_PAST',
        'ADDRESS_NOT_FOUND',
        'CAPACITY_BELOW_RESERVED',
        'EVENT_NOT_EDITABLE',
        'EVENT_VERSION_CONFLICT',
        'GEOCODER_UNAVAILABLE',
      ],
      openapi: { method: 'PATCH', path: '/events/{eventId}', tags, summary: 'Change an event (admin)', protect: true },
    })
    .input(UpdateEventInputSchema)
    .output(EventSchema)
    .mutation(({ ctx, input }) => updateEvent(eventsDeps(ctx), input)),

  cancel: adminProcedure
    .meta({
      errors: ['EVENT_NOT_FOUND'],
      openapi: {
        method: 'POST',
        path: '/events/{eventId}/cancel',
        tags,
        summary: 'Cancel an event, release its holds and refund its buyers (admin)',
        description:
          'Every open hold is released and every confirmed booking gets a full refund, carried out by a job; ' +
          '`refundsDue` says how many this call scheduled (0 when the event was cancelled already). ' +
          'Progress: `GET /events/{eventId}/refunds`.',
        protect: true,
      },
    })
    .input(EventIdInputSchema)
    .output(EventCancellationSchema)
    .mutation(({ ctx, input }) => cancelEvent(eventsDeps(ctx), input.eventId)),

  refundProgress: adminProcedure
    .meta({
      errors: ['EVENT_NOT_FOUND'],
      openapi: {
        method: 'GET',
        path: '/events/{eventId}/refunds',
        tags,
        summary: "How far an event's refunds have come (admin)",
        protect: true,
      },
    })
    .input(EventIdInputSchema)
    .output(RefundProgressSchema)
    .query(({ ctx, input }) => getRefundProgress(eventsDeps(ctx), input.eventId)),

  list: viewerProcedure
    .meta({
      errors: ['INVALID_CURSOR', 'FORBIDDEN'],
      openapi: { method: 'GET', path: '/events', tags, summary: 'Search and page through events' },
    })
    .input(ListEventsInputSchema)
    .output(EventPageSchema)
    .query(({ ctx, input }) => listEvents(eventsDeps(ctx), ctx.user, input)),

  get: viewerProcedure
    .meta({
      errors: ['EVENT_NOT_FOUND'],
      openapi: { method: 'GET', path: '/events/{eventId}', tags, summary: 'One event' },
    })
    .input(EventIdInputSchema)
    .output(EventSchema)
    .query(({ ctx, input }) => getEvent(eventsDeps(ctx), ctx.user, input.eventId)),

  availability: viewerProcedure
    .meta({
      errors: ['EVENT_NOT_FOUND'],
      openapi: { method: 'GET', path: '/events/{eventId}/availability', tags, summary: 'Ticket counts of an event' },
    })
    .input(EventIdInputSchema)
    .output(AvailabilitySchema)
    .query(({ ctx, input }) => getAvailability(eventsDeps(ctx), ctx.user, input.eventId)),
});
