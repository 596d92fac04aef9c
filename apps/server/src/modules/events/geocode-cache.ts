import { DomainError } from '@boxoffice/contracts';
import { type EntityManager, GeocodeCacheEntry } from '@boxoffice/db';
import type { GeocodeResult, Geocoder } from './geocoder.ts';

/** Google's terms allow keeping coordinates for 30 days; older entries are looked up again. */
export const GEOCODE_CACHE_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/** The cache key: case and spacing do not make a different address. */
export function addressKey(address: string): string {
  return address.trim().replace(/\s+/g, ' ').toLowerCase();
}

/**
 * Geocodes through the `geocode_cache` table, so an address (found or not) is paid for once.
 * Failures are not cached: the next attempt asks the service again.
 */
export async function geocodeCached(
  em: EntityManager,
  geocoder: Geocoder,
  address: string,
  now: Date,
): Promise<GeocodeResult | null> {
  const key = addressKey(address);
  const cached = await em.findOne(GeocodeCacheEntry, { addressKey: key });
  if (cached && now.getTime() - cached.createdAt.getTime() < GEOCODE_CACHE_TTL_MS) {
    if (cached.status === 'ZERO_RESULTS') return null;
    const { latitude, longitude, formattedAddress, placeId } = cached;
    // an incomplete OK entry is treated as missing rather than filled in
    if (latitude != null && longitude != null && formattedAddress != null && placeId != null)
      return { latitude, longitude, formattedAddress, placeId };
  }

  let result: GeocodeResult | null;
  try {
    result = await geocoder.geocode(address.trim());
  } catch (error) {
    if (error instanceof DomainError) throw error;
    throw new DomainError('GEOCODER_UNAVAILABLE', 'The geocoding service is unavailable; try again later');
  }
  // two admins geocoding one new address at once: the later write simply refreshes the entry
  await em.execute(
    `INSERT INTO geocode_cache (address_key, status, latitude, longitude, formatted_address, place_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (address_key) DO UPDATE SET status = excluded.status, latitude = excluded.latitude,
       longitude = excluded.longitude, formatted_address = excluded.formatted_address,
       place_id = excluded.place_id, created_at = excluded.created_at`,
    [
      key,
      result ? 'OK' : 'ZERO_RESULTS',
      result?.latitude ?? null,
      result?.longitude ?? null,
      result?.formattedAddress ?? null,
      result?.placeId ?? null,
      now,
    ],
  );
  return result;
}
