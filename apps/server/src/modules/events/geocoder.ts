import { DomainError } from '@boxoffice/contracts';
import { Client } from '@googlemaps/google-maps-services-js';
import { z } from 'zod';
import type { Config } from '../../config.ts';

/** A venue address resolved to a point. */
export type GeocodeResult = { latitude: number; longitude: number; formattedAddress: string; placeId: string };

/** Resolves addresses; `null` means the service found nothing (ZERO_RESULTS). Failures throw. */
export type Geocoder = { geocode(address: string): Promise<GeocodeResult | null> };

export type GoogleGeocoderOptions = {
  apiKey: string;
  /** Full URL of the geocode endpoint; Google's own when absent. Tests point it at a local stand-in. */
  baseUrl?: string;
  timeoutMs: number;
};

/** Only the fields we use; anything else Google sends is ignored, anything missing is a failure. */
const GoogleGeocodeResponseSchema = z.object({
  status: z.string(),
  error_message: z.string().optional(),
  results: z
    .array(
      z.object({
        formatted_address: z.string(),
        place_id: z.string(),
        geometry: z.object({
          location: z.object({ lat: z.number().min(-90).max(90), lng: z.number().min(-180).max(180) }),
        }),
      }),
    )
    .default([]),
});

const unavailable = (reason: string) =>
  new DomainError('GEOCODER_UNAVAILABLE', 'The geocoding service is unavailable; try again later', { reason });

/** Google's status on a rejected call (the client turns REQUEST_DENIED into HTTP 403, and so on). */
function failureReason(error: unknown): string {
  const failure = error as { code?: string; response?: { status?: number; data?: { status?: unknown } } };
  if (failure.code === 'ECONNABORTED' || failure.code === 'ETIMEDOUT') return 'timeout';
  const status = failure.response?.data?.status;
  if (typeof status === 'string' && /^[A-Z_]{2,40}$/.test(status)) return status;
  if (failure.response?.status) return `HTTP_${failure.response.status}`;
  return 'unreachable';
}

/**
 * Google Geocoding through the official client. The address travels only as the `address` query
 * parameter, percent-encoded by the client, so no address can change the host or path called.
 */
export function createGoogleGeocoder(options: GoogleGeocoderOptions): Geocoder {
  // no retries: a create request waits at most one timeout, and an admin can simply try again;
  // no redirects: a 3xx could send the request, API key included, to any host it names
  const client = new Client({
    config: { timeout: options.timeoutMs, maxRedirects: 0, raxConfig: { retry: 0, noResponseRetries: 0 } },
  });
  return {
    async geocode(address) {
      let data: unknown;
      try {
        const response = await client.geocode({
          params: { address, key: options.apiKey },
          ...(options.baseUrl ? { url: options.baseUrl } : {}),
          timeout: options.timeoutMs,
          maxRedirects: 0,
        });
        data = response.data;
      } catch (error) {
        // the client's error carries the request config, API key included: never pass it on
        throw unavailable(failureReason(error));
      }
      const parsed = GoogleGeocodeResponseSchema.safeParse(data);
      if (!parsed.success) throw unavailable('malformed_response');
      const { status, results } = parsed.data;
      if (status === 'ZERO_RESULTS') return null;
      const first = results[0];
      if (status !== 'OK' || !first) throw unavailable(status === 'OK' ? 'malformed_response' : status);
      return {
        latitude: first.geometry.location.lat,
        longitude: first.geometry.location.lng,
        formattedAddress: first.formatted_address,
        placeId: first.place_id,
      };
    },
  };
}

/** The configured geocoder, or null without GOOGLE_MAPS_API_KEY (coordinates then come from the input or stay empty). */
export function geocoderFromConfig(
  config: Pick<Config, 'GOOGLE_MAPS_API_KEY' | 'GOOGLE_MAPS_BASE_URL' | 'GEOCODER_TIMEOUT_MS'>,
): Geocoder | null {
  if (!config.GOOGLE_MAPS_API_KEY) return null;
  return createGoogleGeocoder({
    apiKey: config.GOOGLE_MAPS_API_KEY,
    baseUrl: config.GOOGLE_MAPS_BASE_URL,
    timeoutMs: config.GEOCODER_TIMEOUT_MS,
  });
}
