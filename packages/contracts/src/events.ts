import { z } from 'zod';
import {
  BodyNumber,
  CurrencyCodeSchema,
  CurrencySchema,
  CursorSchema,
  IdSchema,
  INT4_MAX,
  MinorAmountSchema,
  PageLimitSchema,
  pageOf,
  QueryBooleanSchema,
  TimestampSchema,
} from './common.ts';
import { MAX_ORDER_TOTAL_MINOR } from './money.ts';

export const EVENT_STATUSES = ['draft', 'published', 'cancelled'] as const;
export const EventStatusSchema = z.enum(EVENT_STATUSES);
export type EventStatus = z.infer<typeof EventStatusSchema>;

/** `cancelled` is reached only through `events.cancel`, which also releases the holds. */
export const EditableEventStatusSchema = z.enum(['draft', 'published']);

export const EVENT_MAX_PER_ORDER_DEFAULT = 10;
export const EVENT_MAX_PER_USER_DEFAULT = 10;
export const EVENT_CAPACITY_MAX = 1_000_000;
export const EVENT_TICKET_LIMIT_MAX = 1_000;
export const NEAR_RADIUS_KM_DEFAULT = 25;
/** "Near" stays near: a wider circle holds most events and is better served by the plain list. */
export const NEAR_RADIUS_KM_MAX = 500;
/** Shorter text has no trigram, so the search index could not serve it. */
export const SEARCH_TEXT_MIN = 3;

/** True for IANA zone names (`Europe/Berlin`, `UTC`); offsets such as `+01:00` are not zone names. */
export function isIanaTimeZone(name: string): boolean {
  if (!/^[A-Za-z]/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export const TimeZoneSchema = z
  .string()
  .trim()
  .max(64)
  .refine(isIanaTimeZone, 'expected an IANA time zone name, e.g. Europe/Berlin')
  // stored in the canonical spelling, so `europe/berlin` and `Europe/Berlin` are one zone
  .transform((name) => new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone)
  .meta({ example: 'Europe/Berlin' });

// The examples make one consistent event (the one the README publishes), so a form pre-filled
// from them, as the API reference's "Try it out" does, is a valid request.
export const LatitudeSchema = BodyNumber(z.number().min(-90).max(90)).meta({ example: 52.5169 });
export const LongitudeSchema = BodyNumber(z.number().min(-180).max(180)).meta({ example: 13.3953 });
const TitleSchema = z.string().trim().min(1).max(200).meta({ example: 'Night at the Opera' });
const DescriptionSchema = z.string().trim().max(5_000).meta({ example: 'Verdi, La traviata. Two intervals.' });
const VenueNameSchema = z.string().trim().min(1).max(200).meta({ example: 'Staatsoper' });
const AddressSchema = z.string().trim().min(1).max(500).meta({ example: 'Unter den Linden 7, Berlin' });
const CapacitySchema = BodyNumber(z.number().int().min(1).max(EVENT_CAPACITY_MAX)).meta({ example: 500 });
const TicketLimitSchema = BodyNumber(z.number().int().min(1).max(EVENT_TICKET_LIMIT_MAX));
const PriceSchema = BodyNumber(MinorAmountSchema).meta({ example: 4200 });
const EVENT_STARTS_EXAMPLE = '2035-03-01T19:30:00+01:00';
const EVENT_ENDS_EXAMPLE = '2035-03-01T22:30:00+01:00';
const SALES_START_EXAMPLE = '2035-01-15T10:00:00+01:00';
const SALES_END_EXAMPLE = '2035-03-01T18:00:00+01:00';

type Issue = { path: string[]; message: string };

/** Rules over several fields; each issue names the field a form should mark. */
export function eventFieldIssues(event: {
  latitude?: number | null;
  longitude?: number | null;
  startsAt?: string;
  endsAt?: string | null;
  salesStartAt?: string | null;
  salesEndAt?: string | null;
  maxPerOrder?: number;
  maxPerUser?: number;
  priceMinor?: number;
}): Issue[] {
  const issues: Issue[] = [];
  if ((event.latitude == null) !== (event.longitude == null)) {
    const missing = event.latitude == null ? 'latitude' : 'longitude';
    issues.push({ path: [missing], message: 'give latitude and longitude together, or neither' });
  }
  if (event.startsAt && event.endsAt && Date.parse(event.endsAt) <= Date.parse(event.startsAt))
    issues.push({ path: ['endsAt'], message: 'must be after startsAt' });
  if (event.salesStartAt && event.salesEndAt && Date.parse(event.salesEndAt) <= Date.parse(event.salesStartAt))
    issues.push({ path: ['salesEndAt'], message: 'must be after salesStartAt' });
  if (event.maxPerOrder !== undefined && event.maxPerUser !== undefined && event.maxPerOrder > event.maxPerUser)
    issues.push({ path: ['maxPerOrder'], message: 'must not exceed maxPerUser' });
  if (
    event.priceMinor !== undefined &&
    event.maxPerOrder !== undefined &&
    event.priceMinor * event.maxPerOrder > MAX_ORDER_TOTAL_MINOR
  )
    issues.push({
      path: ['priceMinor'],
      message: `priceMinor × maxPerOrder must not exceed ${MAX_ORDER_TOTAL_MINOR} (the largest order total)`,
    });
  return issues;
}

function addIssues(issues: Issue[], ctx: z.RefinementCtx) {
  for (const issue of issues) ctx.addIssue({ code: 'custom', ...issue });
}

export const CreateEventInputSchema = z
  .strictObject({
    title: TitleSchema,
    description: DescriptionSchema.default(''),
    venueName: VenueNameSchema,
    address: AddressSchema.meta({
      description: 'Geocoded when the server has a Google Maps key, unless latitude/longitude are given.',
    }),
    latitude: LatitudeSchema.optional(),
    longitude: LongitudeSchema.optional(),
    startsAt: TimestampSchema.meta({
      description: 'ISO 8601 with offset; must be in the future.',
      example: EVENT_STARTS_EXAMPLE,
    }),
    endsAt: TimestampSchema.meta({ example: EVENT_ENDS_EXAMPLE }).optional(),
    salesStartAt: TimestampSchema.meta({
      description: 'Tickets go on sale at this instant (default: at once); booking earlier is 403 SALES_NOT_OPEN.',
      example: SALES_START_EXAMPLE,
    }).optional(),
    salesEndAt: TimestampSchema.meta({
      description: 'No tickets are sold from this instant (default: until the event starts); 403 SALES_ENDED.',
      example: SALES_END_EXAMPLE,
    }).optional(),
    timezone: TimeZoneSchema,
    priceMinor: PriceSchema.meta({ description: 'Ticket price in minor units (cents).' }),
    currency: CurrencySchema,
    capacity: CapacitySchema,
    maxPerOrder: TicketLimitSchema.optional().meta({
      description: `Tickets per booking; default ${EVENT_MAX_PER_ORDER_DEFAULT}, or maxPerUser if that is lower.`,
      example: 6,
    }),
    maxPerUser: TicketLimitSchema.default(EVENT_MAX_PER_USER_DEFAULT).meta({ example: 10 }),
    status: EditableEventStatusSchema.default('published'),
  })
  // a lower per-user limit lowers the default per-order limit with it, rather than clashing with it
  .transform((input) => ({
    ...input,
    maxPerOrder: input.maxPerOrder ?? Math.min(EVENT_MAX_PER_ORDER_DEFAULT, input.maxPerUser),
  }))
  .superRefine((input, ctx) => addIssues(eventFieldIssues(input), ctx));
export type CreateEventInput = z.infer<typeof CreateEventInputSchema>;

const EventIdSchema = IdSchema.meta({ example: '0b7d6c7e-3f0a-4c55-9d1e-6a2b4f8e9c10' });

export const EventIdInputSchema = z.strictObject({ eventId: EventIdSchema });

/** A partial update: absent fields stay as they are. */
export const UpdateEventInputSchema = z
  .strictObject({
    eventId: EventIdSchema,
    version: BodyNumber(z.number().int().min(1).max(INT4_MAX))
      .meta({
        description:
          'The `version` of the event as you read it. When given and the event has changed since, nothing is ' +
          'changed and the answer is 409 EVENT_VERSION_CONFLICT (read it again, then retry).',
        example: 1,
      })
      .optional(),
    title: TitleSchema.optional(),
    description: DescriptionSchema.optional(),
    venueName: VenueNameSchema.optional(),
    address: AddressSchema.meta({
      description: 'A new address is geocoded again (or its coordinates cleared) unless latitude/longitude are given.',
    }).optional(),
    latitude: LatitudeSchema.nullable().optional(),
    longitude: LongitudeSchema.nullable().optional(),
    startsAt: TimestampSchema.meta({ example: EVENT_STARTS_EXAMPLE }).optional(),
    endsAt: TimestampSchema.meta({ example: EVENT_ENDS_EXAMPLE }).nullable().optional(),
    salesStartAt: TimestampSchema.meta({ description: 'null: on sale at once.', example: SALES_START_EXAMPLE })
      .nullable()
      .optional(),
    salesEndAt: TimestampSchema.meta({ description: 'null: until the event starts.', example: SALES_END_EXAMPLE })
      .nullable()
      .optional(),
    timezone: TimeZoneSchema.optional(),
    priceMinor: PriceSchema.meta({ description: 'Existing bookings keep the price they were made at.' }).optional(),
    currency: CurrencySchema.optional(),
    capacity: CapacitySchema.meta({ description: 'May shrink only down to the tickets held plus sold.' }).optional(),
    maxPerOrder: TicketLimitSchema.meta({ example: 6 }).optional(),
    maxPerUser: TicketLimitSchema.meta({ example: 10 }).optional(),
    status: EditableEventStatusSchema.meta({ example: 'published' }).optional(),
  })
  .superRefine((input, ctx) => {
    // a pair is checked only when the input touches it; the merged event is checked by the service
    if (input.latitude !== undefined || input.longitude !== undefined) {
      if ((input.latitude === undefined) !== (input.longitude === undefined)) {
        const missing = input.latitude === undefined ? 'latitude' : 'longitude';
        ctx.addIssue({ code: 'custom', path: [missing], message: 'give latitude and longitude together' });
      } else addIssues(eventFieldIssues({ latitude: input.latitude, longitude: input.longitude }), ctx);
    }
    addIssues(
      eventFieldIssues({
        startsAt: input.startsAt,
        endsAt: input.endsAt,
        salesStartAt: input.salesStartAt,
        salesEndAt: input.salesEndAt,
        maxPerOrder: input.maxPerOrder,
        maxPerUser: input.maxPerUser,
      }),
      ctx,
    );
  });
export type UpdateEventInput = z.infer<typeof UpdateEventInputSchema>;

export const EVENT_SORTS = ['startsAt', 'price', 'distance'] as const;
export const EventSortSchema = z.enum(EVENT_SORTS);
export type EventSort = z.infer<typeof EventSortSchema>;

/** Flat fields, so the same input works as REST query parameters. */
export const ListEventsInputSchema = z
  .strictObject({
    q: z
      .string()
      .trim()
      .min(SEARCH_TEXT_MIN)
      .max(100)
      .meta({
        description: `Text contained in the title, description or venue name (case-insensitive, at least ${SEARCH_TEXT_MIN} characters).`,
      })
      .optional(),
    startsAfter: TimestampSchema.meta({
      description: 'Events starting at or after this instant. Without it only upcoming events are listed.',
    }).optional(),
    startsBefore: TimestampSchema.meta({ description: 'Events starting before this instant.' }).optional(),
    minPrice: z.coerce
      .number()
      .int()
      .min(0)
      .max(INT4_MAX)
      .meta({ description: 'Minimum price in minor units.' })
      .optional(),
    maxPrice: z.coerce
      .number()
      .int()
      .min(0)
      .max(INT4_MAX)
      .meta({ description: 'Maximum price in minor units.' })
      .optional(),
    currency: CurrencySchema.optional(),
    hasTickets: QueryBooleanSchema.meta({
      description: '`true`: only events with tickets left; `false`: only sold-out events.',
    }).optional(),
    nearLat: z.coerce.number().min(-90).max(90).optional(),
    nearLng: z.coerce.number().min(-180).max(180).optional(),
    radiusKm: z.coerce
      .number()
      .positive()
      .max(NEAR_RADIUS_KM_MAX)
      .meta({ description: `Radius around nearLat/nearLng (default ${NEAR_RADIUS_KM_DEFAULT} km).` })
      .optional(),
    sort: EventSortSchema.default('startsAt').meta({
      description: 'Ascending; ties broken by id. `distance` needs nearLat and nearLng.',
    }),
    status: EventStatusSchema.default('published').meta({ description: 'Only admins may list other statuses.' }),
    limit: PageLimitSchema,
    cursor: CursorSchema,
  })
  .superRefine((input, ctx) => {
    const hasLat = input.nearLat !== undefined;
    const hasLng = input.nearLng !== undefined;
    if (hasLat !== hasLng)
      ctx.addIssue({
        code: 'custom',
        path: [hasLat ? 'nearLng' : 'nearLat'],
        message: 'give nearLat and nearLng together',
      });
    if (input.radiusKm !== undefined && !(hasLat && hasLng))
      ctx.addIssue({ code: 'custom', path: ['radiusKm'], message: 'needs nearLat and nearLng' });
    if (input.sort === 'distance' && !(hasLat && hasLng))
      ctx.addIssue({ code: 'custom', path: ['sort'], message: 'sorting by distance needs nearLat and nearLng' });
    if (input.startsAfter && input.startsBefore && Date.parse(input.startsBefore) <= Date.parse(input.startsAfter))
      ctx.addIssue({ code: 'custom', path: ['startsBefore'], message: 'must be after startsAfter' });
    if (input.minPrice !== undefined && input.maxPrice !== undefined && input.maxPrice < input.minPrice)
      ctx.addIssue({ code: 'custom', path: ['maxPrice'], message: 'must not be below minPrice' });
  });
export type ListEventsInput = z.infer<typeof ListEventsInputSchema>;

export const EventSchema = z.object({
  id: IdSchema,
  title: z.string(),
  description: z.string(),
  venueName: z.string(),
  address: z.string(),
  formattedAddress: z.string().nullable().meta({ description: 'The address as the geocoder resolved it.' }),
  latitude: z.number().nullable(),
  longitude: z.number().nullable(),
  placeId: z.string().nullable(),
  startsAt: TimestampSchema,
  endsAt: TimestampSchema.nullable(),
  salesStartAt: TimestampSchema.nullable().meta({ description: 'Tickets go on sale at this instant; null: on sale.' }),
  salesEndAt: TimestampSchema.nullable().meta({ description: 'No tickets are sold from this instant.' }),
  timezone: z.string(),
  priceMinor: z.number().int(),
  currency: CurrencyCodeSchema,
  capacity: z.number().int(),
  available: z.number().int(),
  held: z.number().int(),
  sold: z.number().int(),
  maxPerOrder: z.number().int(),
  maxPerUser: z.number().int(),
  status: EventStatusSchema,
  version: z.number().int(),
  createdAt: TimestampSchema,
  updatedAt: TimestampSchema,
  distanceKm: z.number().nullable().meta({ description: 'Distance from nearLat/nearLng; null without them.' }),
});
export type EventDto = z.infer<typeof EventSchema>;

export const EventPageSchema = pageOf(EventSchema);
export type EventPage = z.infer<typeof EventPageSchema>;

export const AvailabilitySchema = z.object({
  eventId: IdSchema,
  capacity: z.number().int(),
  available: z.number().int(),
  held: z.number().int(),
  sold: z.number().int(),
  status: EventStatusSchema,
});
export type Availability = z.infer<typeof AvailabilitySchema>;
