import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DomainError } from '@boxoffice/contracts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeGoogleGeocoder, GEOCODE_PATH, startFakeGoogleGeocoder } from '../../test/fake-google-geocoder.ts';
import { createGoogleGeocoder, type Geocoder, geocoderFromConfig } from './geocoder.ts';

const TIMEOUT_MS = 300;

let fake: FakeGoogleGeocoder;
let geocoder: Geocoder;
beforeAll(async () => {
  fake = await startFakeGoogleGeocoder({ slowMs: 3_000 });
  geocoder = createGoogleGeocoder({ apiKey: 'test-key', baseUrl: fake.endpoint, timeoutMs: TIMEOUT_MS });
});
afterAll(() => fake?.close());
beforeEach(() => {
  fake.requests.length = 0;
  fake.fault = null;
});

async function failure(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe('Google geocoder (real client against the stand-in)', () => {
  it('resolves a known address with one GET carrying the address and key', async () => {
    const found = await geocoder.geocode('Alexanderplatz 1, 10178 Berlin');
    expect(found).toEqual({
      latitude: 52.5219,
      longitude: 13.4132,
      formattedAddress: 'Alexanderplatz 1, 10178 Berlin, Germany',
      placeId: expect.stringMatching(/^ChIJ/),
    });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({
      method: 'GET',
      path: GEOCODE_PATH,
      host: new URL(fake.url).host,
      params: { address: 'Alexanderplatz 1, 10178 Berlin', key: 'test-key' },
    });
  });

  it('answers null for ZERO_RESULTS', async () => {
    expect(await geocoder.geocode('Nowhere Street 404, Atlantis')).toBeNull();
  });

  it.each([
    'attacker.example@evil.example/steal',
    'Main St 1 #2, Springfield',
    'Line one\r\nHost: evil.example\r\n\r\nGET / HTTP/1.1',
    'http://evil.example/?a=1&key=stolen#frag',
    '../../../../admin?x=1',
  ])('keeps %j a query parameter: same host, same path, the key untouched', async (address) => {
    expect(await geocoder.geocode(address)).toBeNull();
    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request?.host).toBe(new URL(fake.url).host);
    expect(request?.path).toBe(GEOCODE_PATH);
    expect(request?.params).toEqual({ address, key: 'test-key' });
    expect(request?.url.startsWith(`${GEOCODE_PATH}?`)).toBe(true);
  });

  it.each([
    ['REQUEST_DENIED', 'REQUEST_DENIED'],
    ['OVER_QUERY_LIMIT', 'OVER_QUERY_LIMIT'],
    ['HTTP_500', 'HTTP_500'],
    ['MALFORMED', 'malformed_response'],
  ] as const)('turns %s into GEOCODER_UNAVAILABLE without retrying or leaking the key', async (fault, reason) => {
    fake.fault = fault;
    const error = await failure(geocoder.geocode('Alexanderplatz 1, 10178 Berlin'));
    expect(error.code).toBe('GEOCODER_UNAVAILABLE');
    expect(error.status).toBe(503);
    expect(error.details).toEqual({ reason });
    expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain('test-key');
    expect(fake.requests).toHaveLength(1);
  });

  it('gives up after the timeout instead of waiting for a slow service', async () => {
    fake.fault = 'SLOW';
    const started = performance.now();
    const error = await failure(geocoder.geocode('Alexanderplatz 1, 10178 Berlin'));
    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ code: 'GEOCODER_UNAVAILABLE', details: { reason: 'timeout' } });
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(1_500);
    expect(fake.requests).toHaveLength(1);
  });

  it('reports a wrong key as unavailable, not as a missing address', async () => {
    const wrongKey = createGoogleGeocoder({ apiKey: 'wrong-key', baseUrl: fake.endpoint, timeoutMs: TIMEOUT_MS });
    const error = await failure(wrongKey.geocode('Alexanderplatz 1, 10178 Berlin'));
    expect(error).toMatchObject({ code: 'GEOCODER_UNAVAILABLE', details: { reason: 'REQUEST_DENIED' } });
  });

  it('is built from configuration only when a key is set', () => {
    expect(
      geocoderFromConfig({ GOOGLE_MAPS_API_KEY: undefined, GOOGLE_MAPS_BASE_URL: undefined, GEOCODER_TIMEOUT_MS: 300 }),
    ).toBeNull();
    expect(
      geocoderFromConfig({ GOOGLE_MAPS_API_KEY: 'k', GOOGLE_MAPS_BASE_URL: fake.endpoint, GEOCODER_TIMEOUT_MS: 300 }),
    ).not.toBeNull();
  });
});

describe('a redirecting geocode endpoint', () => {
  it('is not followed to another host: nothing, and no API key, is fetched there', async () => {
    // the configured endpoint answers 302 to the stand-in on another port (another origin)
    const redirector = createServer((req, res) => {
      const query = new URL(req.url ?? '/', 'http://redirector.invalid').search;
      res.writeHead(302, { location: `${fake.endpoint}${query}` });
      res.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = redirector.address() as AddressInfo;
      const redirected = createGoogleGeocoder({
        apiKey: 'test-key',
        baseUrl: `http://127.0.0.1:${port}${GEOCODE_PATH}`,
        timeoutMs: TIMEOUT_MS,
      });
      const error = await failure(redirected.geocode('Alexanderplatz 1, 10178 Berlin'));
      expect(error).toMatchObject({ code: 'GEOCODER_UNAVAILABLE', details: { reason: 'HTTP_302' } });
      expect(fake.requests).toHaveLength(0);
    } finally {
      await new Promise<void>((resolve) => redirector.close(() => resolve()));
    }
  });
});
