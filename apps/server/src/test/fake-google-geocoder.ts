import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A place the stand-in knows, as Google would resolve it. */
export type FakePlace = { lat: number; lng: number; formattedAddress: string; placeId?: string };

/**
 * Switchable failures: Google's refusals (answered with HTTP 200 and a status, as Google does),
 * a server error, a reply slower than any sensible timeout, and a reply that breaks the wire format.
 */
export type FakeGeocoderFault = 'REQUEST_DENIED' | 'OVER_QUERY_LIMIT' | 'HTTP_500' | 'SLOW' | 'MALFORMED' | null;

export type RecordedGeocodeRequest = {
  method: string;
  /** The request target as received: path plus query string. */
  url: string;
  /** The Host header, i.e. which server the client meant to reach. */
  host: string | undefined;
  path: string;
  params: Record<string, string>;
};

export type FakeGoogleGeocoder = {
  /** Origin, e.g. http://127.0.0.1:41234; the geocode endpoint is `${url}${GEOCODE_PATH}`. */
  url: string;
  endpoint: string;
  apiKey: string;
  requests: RecordedGeocodeRequest[];
  fault: FakeGeocoderFault;
  slowMs: number;
  addPlace(address: string, place: FakePlace): void;
  close(): Promise<void>;
};

export const GEOCODE_PATH = '/maps/api/geocode/json';

/** Google matches loosely; the stand-in ignores case and spacing, which is enough for tests. */
const normalise = (address: string) => address.trim().replace(/\s+/g, ' ').toLowerCase();

export const KNOWN_PLACES: Record<string, FakePlace> = {
  'Alexanderplatz 1, 10178 Berlin': {
    lat: 52.5219,
    lng: 13.4132,
    formattedAddress: 'Alexanderplatz 1, 10178 Berlin, Germany',
  },
  'Marienplatz 1, 80331 München': {
    lat: 48.1374,
    lng: 11.5755,
    formattedAddress: 'Marienplatz 1, 80331 München, Germany',
  },
  'Jungfernstieg 1, 20354 Hamburg': {
    lat: 53.5526,
    lng: 9.9936,
    formattedAddress: 'Jungfernstieg 1, 20354 Hamburg, Germany',
  },
};

function placeIdFor(address: string): string {
  return `ChIJ${createHash('sha256').update(address).digest('base64url').slice(0, 23)}`;
}

function googleResult(place: FakePlace) {
  const { lat, lng } = place;
  return {
    address_components: [],
    formatted_address: place.formattedAddress,
    geometry: {
      location: { lat, lng },
      location_type: 'ROOFTOP',
      viewport: {
        northeast: { lat: lat + 0.0013497, lng: lng + 0.0013497 },
        southwest: { lat: lat - 0.0013497, lng: lng - 0.0013497 },
      },
    },
    place_id: place.placeId ?? placeIdFor(place.formattedAddress),
    types: ['street_address'],
  };
}

/**
 * A stand-in for Google's Geocoding API on 127.0.0.1 that speaks its JSON wire format, so the
 * real `@googlemaps/google-maps-services-js` client can be tested end to end without the network.
 */
export async function startFakeGoogleGeocoder(
  options: { apiKey?: string; places?: Record<string, FakePlace>; slowMs?: number } = {},
): Promise<FakeGoogleGeocoder> {
  const places = new Map<string, FakePlace>();
  for (const [address, place] of Object.entries(options.places ?? KNOWN_PLACES)) places.set(normalise(address), place);
  const pending = new Set<NodeJS.Timeout>();

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(body, null, 3));
  };

  const answer = (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (url.pathname !== GEOCODE_PATH || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/html; charset=UTF-8' });
      res.end('<html><body>404. That’s an error.</body></html>');
      return;
    }
    if (fake.fault === 'HTTP_500') {
      res.writeHead(500, { 'content-type': 'text/html; charset=UTF-8' });
      res.end('<html><body>500. That’s an error.</body></html>');
      return;
    }
    const key = url.searchParams.get('key');
    if (!key)
      return json(res, 200, {
        error_message: 'You must use an API key to authenticate each request to Google Maps Platform APIs.',
        results: [],
        status: 'REQUEST_DENIED',
      });
    if (key !== fake.apiKey || fake.fault === 'REQUEST_DENIED')
      return json(res, 200, {
        error_message: 'The provided API key is invalid.',
        results: [],
        status: 'REQUEST_DENIED',
      });
    if (fake.fault === 'OVER_QUERY_LIMIT')
      return json(res, 200, {
        error_message: 'You have exceeded your rate-limit for this API.',
        results: [],
        status: 'OVER_QUERY_LIMIT',
      });
    const address = url.searchParams.get('address');
    if (!address?.trim())
      return json(res, 200, {
        error_message: "Invalid request. Missing the 'address', 'components', 'latlng' or 'place_id' parameter.",
        results: [],
        status: 'INVALID_REQUEST',
      });
    const place = places.get(normalise(address));
    if (!place) return json(res, 200, { results: [], status: 'ZERO_RESULTS' });
    if (fake.fault === 'MALFORMED')
      return json(res, 200, { results: [{ formatted_address: place.formattedAddress, geometry: {} }], status: 'OK' });
    return json(res, 200, { results: [googleResult(place)], status: 'OK' });
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    fake.requests.push({
      method: req.method ?? 'GET',
      url: req.url ?? '',
      host: req.headers.host,
      path: url.pathname,
      params: Object.fromEntries(url.searchParams),
    });
    if (fake.fault === 'SLOW') {
      const timer = setTimeout(() => {
        pending.delete(timer);
        if (!res.destroyed) answer(req, res, url);
      }, fake.slowMs);
      pending.add(timer);
      return;
    }
    answer(req, res, url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  const fake: FakeGoogleGeocoder = {
    url: origin,
    endpoint: `${origin}${GEOCODE_PATH}`,
    apiKey: options.apiKey ?? 'test-key',
    requests: [],
    fault: null,
    slowMs: options.slowMs ?? 2_000,
    addPlace(address, place) {
      places.set(normalise(address), place);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of pending) clearTimeout(timer);
        pending.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return fake;
}
