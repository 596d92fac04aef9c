import { Booking } from './booking.entity.ts';
import { Event, GeocodeCacheEntry } from './event.entity.ts';
import { RefreshToken, User } from './user.entity.ts';

export * from './booking.entity.ts';
export * from './event.entity.ts';
export * from './user.entity.ts';

export const entities = [User, RefreshToken, Event, GeocodeCacheEntry, Booking];
