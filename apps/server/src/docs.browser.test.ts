import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './test/browser.ts';
import { startTestServer, type TestServer } from './test/harness.ts';

const SHOTS = path.resolve(import.meta.dirname, '../../../test-results');

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('/docs, as a new user opens it', () => {
  it('renders every operation, and "Try it out" on booking pre-fills a valid body with its header and query parameters', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${server.url}/docs`);
      await page.locator('.opblock').first().waitFor();
      const doc = (await server.http('GET', '/openapi.json')).body;
      const operations = Object.values(doc.paths as Record<string, Record<string, unknown>>).flatMap((item) =>
        Object.keys(item).filter((key) => ['get', 'post', 'patch'].includes(key)),
      );
      expect(await page.locator('.opblock').count()).toBe(operations.length);

      const booking = page.locator('#operations-bookings-bookings-create');
      await booking.locator('.opblock-summary').click();
      await booking.getByRole('button', { name: 'Try it out' }).click();
      const body = JSON.parse(await booking.locator('textarea.body-param__text').inputValue());
      expect(body).toMatchObject({ quantity: 2 });
      const parameters = await booking.locator('.parameters .parameter__name').allInnerTexts();
      expect(parameters.join(' ')).toMatch(/Idempotency-Key/);
      expect(parameters.join(' ')).toMatch(/ticket_quantity/);
      await page.screenshot({ path: path.join(SHOTS, 'api-docs-try-it-out.png'), fullPage: false });
      expect(await page.content()).not.toContain('9007199254740991');
    } finally {
      await page.close();
    }
  }, 60_000);
});
