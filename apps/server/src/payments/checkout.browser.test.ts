import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../test/browser.ts';
import { expectBalanced, makeBuyers, seedEvent } from '../test/fixtures.ts';
import { startTestServer, type TestServer } from '../test/harness.ts';

const SHOTS = path.resolve(import.meta.dirname, '../../../../test-results');

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
  await mkdir(SHOTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function bookTwo() {
  const eventId = await seedEvent(server, { capacity: 10, priceMinor: 4200, title: 'Night at the Opera' });
  const [buyer] = await makeBuyers(server, 1);
  const res = await server.http('POST', `/api/events/${eventId}/book`, { token: buyer!.token, body: { quantity: 2 } });
  expect(res.status).toBe(200);
  return { eventId, bookingId: res.body.id as string, paymentUrl: res.body.paymentUrl as string };
}

describe('a buyer in a real browser', () => {
  it('approves at PayPal and lands on a confirmation page; the booking is CONFIRMED and sold moved', async () => {
    const { eventId, bookingId, paymentUrl } = await bookTwo();
    // the hold's link is ours: following it creates the PayPal order and goes on to PayPal
    expect(paymentUrl).toMatch(/\/payments\/paypal\/start\?ref=/);
    const page = await browser.newPage();
    await page.goto(paymentUrl);
    expect(page.url()).toMatch(/\/paypal-sim\/checkoutnow\?token=/);
    await expect(page.getByText('€84.00').first().isVisible()).resolves.toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'paypal-approval.png'), fullPage: true });
    await Promise.all([
      page.waitForURL(/\/payments\/paypal\/return/),
      page.getByRole('button', { name: 'Approve' }).click(),
    ]);
    await expect(page.locator('h1').textContent()).resolves.toContain('your tickets are confirmed');
    await expect(page.getByTestId('booking-status').textContent()).resolves.toBe('CONFIRMED');
    expect(await page.content()).toContain(bookingId);
    await page.screenshot({ path: path.join(SHOTS, 'payment-confirmed.png'), fullPage: true });
    expect(page.url()).not.toContain('eyJ');

    const rows = await server.sql<{ status: string }>('SELECT status FROM bookings WHERE id = ?', [bookingId]);
    expect(rows[0]?.status).toBe('CONFIRMED');
    expect(await expectBalanced(server, eventId)).toMatchObject({ sold: 2, held: 0, available: 8 });
    await page.close();
  });

  it('cancels at PayPal and sees the hold released', async () => {
    const { eventId, bookingId, paymentUrl } = await bookTwo();
    const page = await browser.newPage();
    await page.goto(paymentUrl);
    await Promise.all([
      page.waitForURL(/\/payments\/paypal\/cancel/),
      page.getByRole('button', { name: 'Cancel' }).click(),
    ]);
    await expect(page.locator('h1').textContent()).resolves.toBe('Payment cancelled');
    await page.screenshot({ path: path.join(SHOTS, 'payment-cancelled.png'), fullPage: true });
    // the payment link again: nothing left to pay, and a way back
    await page.goto(paymentUrl);
    await expect(page.locator('h1').textContent()).resolves.toBe('This booking is no longer open');
    await expect(page.getByRole('link', { name: 'Back' }).getAttribute('href')).resolves.toContain(
      `/api/events/${eventId}`,
    );
    await page.screenshot({ path: path.join(SHOTS, 'payment-link-closed.png'), fullPage: true });
    const rows = await server.sql<{ status: string }>('SELECT status FROM bookings WHERE id = ?', [bookingId]);
    expect(rows[0]?.status).toBe('CANCELLED');
    expect(await expectBalanced(server, eventId)).toMatchObject({ sold: 0, held: 0, available: 10 });
    await page.close();
  });

  it('renders the API reference page', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/docs`);
    await page.getByText('Boxoffice API').first().waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'api-docs.png') });
    await expect(page.getByText('/events/{eventId}/book').first().isVisible()).resolves.toBe(true);
    await page.close();
  });
});
