import { EVENT_STATUSES } from '@boxoffice/contracts';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/** A double precision column read as a JS number (MikroORM reads doubles as strings unless told). */
const coordinate = () => p.double().$type<number>().runtimeType('number');

export const Event = defineEntity({
  name: 'Event',
  tableName: 'events',
  properties: {
    id: p.uuid().primary(),
    title: p.string(),
    description: p.text(),
    venueName: p.string(),
    address: p.string(),
    formattedAddress: p.string().nullable(),
    latitude: coordinate().nullable(),
    longitude: coordinate().nullable(),
    placeId: p.string().nullable(),
    startsAt: p.datetime(),
    endsAt: p.datetime().nullable(),
    /** Nothing is sold before it (null: on sale at once); migration 0012. */
    salesStartAt: p.datetime().nullable(),
    /** Nothing more is sold from it (null: until the event starts). */
    salesEndAt: p.datetime().nullable(),
    timezone: p.string(),
    priceMinor: p.integer(),
    currency: p.string(),
    capacity: p.integer(),
    available: p.integer(),
    held: p.integer(),
    sold: p.integer(),
    maxPerOrder: p.integer(),
    maxPerUser: p.integer(),
    status: p.enum(EVENT_STATUSES),
    createdBy: p.uuid(),
    /** Changes with every write of the row (a trigger, migration 0007): an ETag for what a client read. */
    version: p.integer().default(1),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});
export type Event = InferEntity<typeof Event>;

export const GeocodeCacheEntry = defineEntity({
  name: 'GeocodeCacheEntry',
  tableName: 'geocode_cache',
  properties: {
    addressKey: p.string().primary(),
    status: p.enum(['OK', 'ZERO_RESULTS'] as const),
    latitude: coordinate().nullable(),
    longitude: coordinate().nullable(),
    formattedAddress: p.string().nullable(),
    placeId: p.string().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type GeocodeCacheEntry = InferEntity<typeof GeocodeCacheEntry>;
