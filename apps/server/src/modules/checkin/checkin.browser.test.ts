import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../../lib/clock.ts';
import { RETURN_PAGE_TICKETS_WINDOW_MS } from '../../payments/paypal/paypal-redirects.router.ts';
import { launchChromium } from '../../test/browser.ts';
import { makeBuyers, seedEvent } from '../../test/fixtures.ts';
import { signInAdmin, signUp, startTestServer, type TestServer } from '../../test/harness.ts';

const SHOTS = path.resolve(import.meta.dirname, '../../../../../test-results');

const clock = manualClock();
let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer({ clock }), launchChromium()]);
  await mkdir(SHOTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** The check-in page on a phone-sized screen, signed in through its form. */
async function signInAtTheDoor(user: { email: string; password: string }, screenshot?: string) {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
  await page.goto(`${server.url}/checkin`);
  await page.getByLabel('E-mail').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  if (screenshot) await page.screenshot({ path: path.join(SHOTS, screenshot) });
  await page.getByRole('button', { name: 'Sign in' }).click();
  return page;
}

describe('door staff in a real browser, on a phone-sized screen', () => {
  it('signs in, picks the event, types a code: ADMITTED, then ALREADY_ADMITTED; a forged code is refused', async () => {
    const eventId = await seedEvent(server, { capacity: 10, priceMinor: 0, title: 'Jazz Night' });
    const [buyer] = await makeBuyers(server, 1);
    const booked = await server.http('POST', `/api/events/${eventId}/book`, {
      token: buyer!.token,
      body: { quantity: 1 },
    });
    const tickets = await server.http('GET', `/api/bookings/${booked.body.id}/tickets`, { token: buyer!.token });
    const ticket = tickets.body.items[0] as { id: string; code: string };
    await server.http('PATCH', `/api/tickets/${ticket.id}`, { token: buyer!.token, body: { attendeeName: 'Ella F.' } });

    const staff = await signUp(server, 'door');
    const admin = await signInAdmin(server);
    const grant = await server.http('POST', `/api/events/${eventId}/staff`, {
      token: admin.accessToken,
      body: { userId: staff.id },
    });
    expect(grant.status).toBe(200);

    const page = await signInAtTheDoor(staff, 'checkin-signin.png');
    await expect(page.locator('#event option').first().textContent()).resolves.toContain('Jazz Night');
    // the token lives in this tab's storage, never in the address
    expect(page.url()).toBe(`${server.url}/checkin`);
    expect(await page.evaluate(() => sessionStorage.getItem('boxoffice.checkin.token'))).toMatch(/^eyJ/);

    const result = page.getByTestId('scan-result');
    await page.getByLabel('Or type the code').fill(ticket.code);
    await page.getByRole('button', { name: 'Check' }).click();
    await page.waitForFunction(() => document.querySelector('#result .verdict')?.textContent === 'Admitted');
    await expect(result.locator('.who').textContent()).resolves.toBe('Ella F.');
    await expect(result.getAttribute('class')).resolves.toBe('ADMITTED');
    await page.waitForFunction(() => document.querySelector('#counts')?.textContent?.includes('1Admitted'));
    await page.screenshot({ path: path.join(SHOTS, 'checkin-admitted.png') });

    await page.getByLabel('Or type the code').fill(ticket.code);
    await page.getByRole('button', { name: 'Check' }).click();
    await page.waitForFunction(() => document.querySelector('#result .verdict')?.textContent === 'Already admitted');
    await expect(result.getAttribute('class')).resolves.toBe('ALREADY_ADMITTED');
    await expect(result.locator('.when').textContent()).resolves.toMatch(/^First scan /);
    await page.screenshot({ path: path.join(SHOTS, 'checkin-already-admitted.png') });

    const forged = `${ticket.code.slice(0, 20)}${ticket.code[20] === 'A' ? 'B' : 'A'}${ticket.code.slice(21)}`;
    await page.getByLabel('Or type the code').fill(forged);
    await page.getByRole('button', { name: 'Check' }).click();
    await page.waitForFunction(() => document.querySelector('#result .verdict')?.textContent === 'Invalid code');
    await page.screenshot({ path: path.join(SHOTS, 'checkin-invalid.png') });

    const [row] = await server.sql<{ checked_in_by: string }>('SELECT checked_in_by FROM tickets WHERE id = ?', [
      ticket.id,
    ]);
    expect(row?.checked_in_by).toBe(staff.id);
    // the page fits a phone: nothing wider than the screen
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.close();
  });

  it('a plain user who signs in there is told they may not check in', async () => {
    const user = await signUp(server, 'nobody');
    const page = await signInAtTheDoor(user);
    await page.waitForFunction(() => !!document.querySelector('#signin-error')?.textContent);
    await expect(page.locator('#signin-error').textContent()).resolves.toContain('door staff');
    await expect(page.locator('#signin-error').isVisible()).resolves.toBe(true);
    await expect(page.locator('#door').isVisible()).resolves.toBe(false);
    expect(await page.evaluate(() => sessionStorage.getItem('boxoffice.checkin.token'))).toBeNull();
    await page.screenshot({ path: path.join(SHOTS, 'checkin-refused.png') });
    await page.close();
  });

  it('the PayPal return page shows the tickets once confirmed', async () => {
    const eventId = await seedEvent(server, { capacity: 10, priceMinor: 4200, title: 'Night at the Opera' });
    const [buyer] = await makeBuyers(server, 1);
    const res = await server.http('POST', `/api/events/${eventId}/book`, {
      token: buyer!.token,
      body: { quantity: 2 },
    });
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(res.body.paymentUrl);
    await Promise.all([
      page.waitForURL(/\/payments\/paypal\/return/),
      page.getByRole('button', { name: 'Approve' }).click(),
    ]);
    await expect(page.getByTestId('booking-status').textContent()).resolves.toBe('CONFIRMED');
    await expect(page.getByTestId('ticket').count()).resolves.toBe(2);
    const loaded = await page.$$eval('[data-testid=ticket] img', (imgs) =>
      imgs.map((img) => (img as HTMLImageElement).naturalWidth > 0),
    );
    expect(loaded).toEqual([true, true]);
    await page.screenshot({ path: path.join(SHOTS, 'payment-confirmed-tickets.png'), fullPage: true });
    // the URL stays in the browser's history: a visit well after the confirmation shows no codes
    clock.advance(RETURN_PAGE_TICKETS_WINDOW_MS + 60_000);
    await page.reload();
    await expect(page.getByTestId('booking-status').textContent()).resolves.toBe('CONFIRMED');
    await expect(page.getByTestId('ticket').count()).resolves.toBe(0);
    await expect(page.getByTestId('tickets-elsewhere').isVisible()).resolves.toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'payment-confirmed-later.png'), fullPage: true });
    await page.close();
  });
});
