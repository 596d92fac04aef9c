/** A venue address resolved to a point. */
export type GeocodeResult = { latitude: number; longitude: number; formattedAddress: string; placeId: string };

/** Resolves addresses; `null` means the service found nothing (ZERO_RESULTS). Failures throw. */
export type Geocoder = { geocode(address: string): Promise<GeocodeResult | null> };
