import { randomUUID } from 'node:crypto';
import type { TestServer } from './harness.ts';

export type SeedEvent = {
  capacity?: number;
  priceMinor?: number;
  currency?: string;
  status?: 'draft' | 'published' | 'cancelled';
  startsAt?: Date;
  maxPerOrder?: number;
  maxPerUser?: number;
  title?: string;
};

/** Inserts an event row directly (bookings tests need events, not the events API). */
export async function seedEvent(server: TestServer, event: SeedEvent = {}): Promise<string> {
  const id = randomUUID();
  const admin = await server.sql<{ id: string }>("SELECT id FROM users WHERE role = 'admin' LIMIT 1");
  const capacity = event.capacity ?? 100;
  const startsAt = event.startsAt ?? new Date(server.deps.clock.now().getTime() + 30 * 86_400_000);
  await server.sql(
    `INSERT INTO events (id, title, venue_name, address, starts_at, timezone, price_minor, currency, capacity,
                         available, max_per_order, max_per_user, status, created_by)
     VALUES (?, ?, 'Hall', '1 Main St', ?, 'Europe/Berlin', ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      id,
      event.title ?? 'Concert',
      startsAt,
      event.priceMinor ?? 2500,
      event.currency ?? 'EUR',
      capacity,
      capacity,
      event.maxPerOrder ?? 10,
      event.maxPerUser ?? 10,
      event.status ?? 'published',
      admin[0]?.id,
    ],
  );
  return id;
}

export type Counts = { capacity: number; available: number; held: number; sold: number };

export async function ticketCounts(server: TestServer, eventId: string): Promise<Counts> {
  const rows = await server.sql<Counts>('SELECT capacity, available, held, sold FROM events WHERE id = ?', [eventId]);
  if (!rows[0]) throw new Error(`no event ${eventId}`);
  return rows[0];
}

/** The invariant every ticket move keeps, plus agreement with the bookings table. */
export async function expectBalanced(server: TestServer, eventId: string): Promise<Counts> {
  const counts = await ticketCounts(server, eventId);
  const [byStatus] = await server.sql<{ held: number; sold: number }>(
    `SELECT coalesce(sum(quantity) FILTER (WHERE status = 'HELD'), 0)::int AS held,
            coalesce(sum(quantity) FILTER (WHERE status = 'CONFIRMED'), 0)::int AS sold
     FROM bookings WHERE event_id = ?`,
    [eventId],
  );
  const problems: string[] = [];
  if (counts.available < 0 || counts.held < 0 || counts.sold < 0) problems.push('negative count');
  if (counts.available + counts.held + counts.sold !== counts.capacity) problems.push('counts do not add up');
  if (byStatus?.held !== counts.held) problems.push(`held ${counts.held} but HELD bookings ${byStatus?.held}`);
  if (byStatus?.sold !== counts.sold) problems.push(`sold ${counts.sold} but CONFIRMED bookings ${byStatus?.sold}`);
  if (problems.length) throw new Error(`${problems.join('; ')}: ${JSON.stringify(counts)}`);
  return counts;
}

/** Many buyers fast: users inserted directly with a throwaway hash, tokens minted by the server's signer. */
export async function makeBuyers(server: TestServer, n: number): Promise<{ id: string; token: string }[]> {
  const buyers: { id: string; token: string }[] = [];
  for (let i = 0; i < n; i++) {
    const id = randomUUID();
    await server.sql("INSERT INTO users (id, email, username, password_hash, role) VALUES (?, ?, ?, 'x', 'user')", [
      id,
      `buyer-${id}@example.test`,
      `buyer${i}`,
    ]);
    buyers.push({ id, token: await server.deps.tokens.signAccess({ id, role: 'user' }) });
  }
  return buyers;
}

/** What the simulator's Approve or Cancel button does: a form POST answered with a redirect; returns where to. */
export async function pressPayPalButton(
  server: TestServer,
  orderId: string,
  button: 'approve' | 'cancel',
): Promise<string> {
  const res = await fetch(`${server.paypalSimulatorUrl}/checkoutnow/${button}`, {
    method: 'POST',
    body: new URLSearchParams({ token: orderId }),
    redirect: 'manual',
  });
  if (res.status !== 303) throw new Error(`PayPal simulator answered ${res.status} to ${button}`);
  return res.headers.get('location') as string;
}

/**
 * Follows a hold's `paymentUrl` as a browser does, up to PayPal: the start link creates the PayPal
 * order and answers 303 to its approval page. Returns that page's URL.
 */
export async function approvalUrlOf(booking: { paymentUrl: string | null }): Promise<string> {
  if (!booking.paymentUrl) throw new Error('the booking has no payment link');
  const res = await fetch(booking.paymentUrl, { redirect: 'manual' });
  if (res.status !== 303) throw new Error(`the payment link answered ${res.status}: ${await res.text()}`);
  return res.headers.get('location') as string;
}

/** Starts the payment of a hold through its `paymentUrl`; returns the PayPal order id. */
export async function startPayment(booking: { paymentUrl: string | null }): Promise<string> {
  return new URL(await approvalUrlOf(booking)).searchParams.get('token') as string;
}
