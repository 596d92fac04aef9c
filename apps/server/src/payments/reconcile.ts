import {
  type Mismatch,
  type MismatchKind,
  type ReconcileInput,
  ReconcileInputSchema,
  type ReconcileReport,
} from '@boxoffice/contracts';
import { Booking, type EntityManager } from '@boxoffice/db';
import { moneyNotGivenBack, recordPayment, refundAndRecord, settlePayment } from './checkout.service.ts';
import { type PayPalOrderView, payPalFailureKind } from './paypal/gateway.ts';
import { applyProviderRefund, type RefundsDeps } from './refunds.service.ts';

/**
 * Reconciliation: our bookings and payments ledger against PayPal's orders, captures and refunds,
 * for every booking with a PayPal order changed within the window. Each disagreement is reported;
 * with `repair` it is settled through the paths the webhooks take (settlement for money taken,
 * the provider-refund path for money PayPal gave back), or left for a person when no path can
 * decide (money on our books that PayPal no longer shows, tickets without a capture).
 */

type LedgerRow = { kind: 'capture' | 'refund'; provider_ref: string; status: string; amount_minor: number };

const describeMoney = (minor: number, currency: string) => `${(minor / 100).toFixed(2)} ${currency.trim()}`;

async function loadBooking(em: EntityManager, bookingId: string): Promise<Booking> {
  const [row] = await em.execute('SELECT * FROM bookings WHERE id = ?', [bookingId]);
  return em.map(Booking, row as Record<string, unknown>);
}

type Finding = { kind: MismatchKind; detail: string; repair?: () => Promise<boolean> };

/** What disagrees between one booking and its order at PayPal. */
async function findingsFor(
  deps: RefundsDeps,
  em: EntityManager,
  booking: Booking,
  order: PayPalOrderView,
  ledger: LedgerRow[],
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const capture = order.captures[0];
  const recorded = (kind: LedgerRow['kind'], ref: string) =>
    ledger.some((row) => row.kind === kind && row.provider_ref === ref);
  const completedRefunds = order.refunds.filter((refund) => refund.status === 'COMPLETED');
  const refundedAtPayPal =
    capture !== undefined && (capture.status === 'REFUNDED' || capture.status === 'PARTIALLY_REFUNDED');
  const money = capture ? describeMoney(capture.amountMinor, capture.currency) : '';
  const settle = async () => {
    const outcome = await settlePayment(deps.checkout, em, booking.id, 'after_release');
    return outcome.kind !== 'unavailable' && outcome.kind !== 'processing';
  };
  const takeRefunds = async () => {
    if (!capture || completedRefunds.length === 0) return false;
    for (const refund of completedRefunds) await applyProviderRefund(deps, em, booking.id, { refund, capture });
    return true;
  };

  if (capture && capture.status !== 'DECLINED' && capture.status !== 'FAILED' && !recorded('capture', capture.id))
    findings.push({
      kind: 'capture_not_recorded',
      detail: `capture ${capture.id} ${capture.status} ${money} is not in our payments ledger`,
      repair: async () => {
        await recordPayment(em, {
          bookingId: booking.id,
          kind: 'capture',
          ref: capture.id,
          status: capture.status === 'PENDING' ? 'PENDING' : 'COMPLETED',
          amountMinor: capture.amountMinor,
          currency: capture.currency,
        });
        return true;
      },
    });

  if (booking.status === 'CONFIRMED') {
    if (!capture || capture.status === 'DECLINED' || capture.status === 'FAILED' || capture.status === 'PENDING')
      findings.push({
        kind: 'confirmed_without_capture',
        detail: `booking is CONFIRMED but PayPal's order ${order.id} is ${order.status} with ${capture ? `a ${capture.status} capture` : 'no capture'}`,
      });
    else if (refundedAtPayPal)
      findings.push({
        kind: 'refunded_at_paypal_not_here',
        detail: `capture ${capture.id} is ${capture.status} at PayPal, the booking still CONFIRMED`,
        repair: takeRefunds,
      });
  } else if (booking.status === 'REFUNDED') {
    if (capture?.status === 'COMPLETED')
      findings.push({
        kind: 'refunded_here_not_at_paypal',
        detail: `booking is REFUNDED but capture ${capture.id} ${money} is not refunded at PayPal`,
        repair: async () => {
          const owed = await moneyNotGivenBack(em, booking.id);
          if (owed <= 0) return false; // our ledger says the money went back: a person compares the two
          const refund = await refundAndRecord(deps.checkout, em, booking, { ...capture, amountMinor: owed });
          return refund.status === 'COMPLETED';
        },
      });
  } else if (capture?.status === 'COMPLETED') {
    // a hold (open or released) with money behind it: tickets or a refund, as settlement decides
    findings.push({
      kind: 'captured_not_confirmed',
      detail: `capture ${capture.id} ${capture.status} ${money} at PayPal, the booking ${booking.status}`,
      repair: settle,
    });
  }

  if (refundedAtPayPal && booking.status !== 'CONFIRMED') {
    const missing = completedRefunds.filter((refund) => !recorded('refund', refund.refundId));
    if (missing.length > 0 || completedRefunds.length === 0)
      findings.push({
        kind: 'refunded_at_paypal_not_here',
        detail:
          missing.length > 0
            ? `refund ${missing.map((refund) => refund.refundId).join(', ')} at PayPal is not in our payments ledger`
            : `capture ${capture?.id} is ${capture?.status} at PayPal, with no refund PayPal lists`,
        repair: missing.length > 0 ? takeRefunds : settle,
      });
  }
  return findings;
}

export async function reconcilePayments(
  deps: RefundsDeps,
  em: EntityManager,
  input: ReconcileInput,
): Promise<ReconcileReport> {
  const now = deps.checkout.clock.now();
  const since = new Date(now.getTime() - input.sinceHours * 3_600_000);
  const rows = await em.execute<{ id: string }[]>(
    `SELECT id FROM bookings WHERE paypal_order_id IS NOT NULL AND (updated_at >= ? OR created_at >= ?)
      ORDER BY created_at, id`,
    [since, since],
  );
  const mismatches: Mismatch[] = [];
  let unreachable = 0;
  for (const { id } of rows) {
    const booking = await loadBooking(em, id);
    const ledger = await em.execute<LedgerRow[]>(
      'SELECT kind, provider_ref, status, amount_minor FROM payments WHERE booking_id = ?',
      [id],
    );
    let findings: Finding[];
    try {
      const order = await deps.checkout.gateway.getOrder(booking.paypalOrderId as string);
      // an order that is not for this booking is never acted on (settlement refuses it too)
      if (order.customId !== booking.id) continue;
      findings = await findingsFor(deps, em, booking, order, ledger);
    } catch (error) {
      if (payPalFailureKind(error) !== 'not_found') {
        unreachable += 1;
        continue;
      }
      const owed = await moneyNotGivenBack(em, id);
      if (owed > 0)
        findings = [
          {
            kind: 'order_missing',
            detail: `PayPal has no order ${booking.paypalOrderId}; our ledger shows ${describeMoney(owed, booking.currency)} taken and not given back`,
          },
        ];
      else if (booking.status === 'CONFIRMED')
        findings = [
          {
            kind: 'confirmed_without_capture',
            detail: `booking is CONFIRMED but PayPal has no order ${booking.paypalOrderId}`,
          },
        ];
      else continue;
    }
    for (const finding of findings) {
      let repaired: boolean | null = null;
      if (input.repair) {
        try {
          repaired = finding.repair ? await finding.repair() : false;
        } catch (error) {
          deps.checkout.log.warn({ err: error, bookingId: id, kind: finding.kind }, 'reconcile repair failed');
          repaired = false;
        }
      }
      const after = input.repair ? (await loadBooking(em, id)).status : null;
      mismatches.push({
        kind: finding.kind,
        bookingId: id,
        bookingStatus: booking.status,
        orderId: booking.paypalOrderId ?? null,
        detail: finding.detail,
        repaired,
        after,
      });
    }
  }
  return { since: since.toISOString(), checked: rows.length, unreachable, mismatches };
}

/** The report as the command line prints it, one line per mismatch. */
export function formatReconcileReport(report: ReconcileReport, repair: boolean): string[] {
  const lines = [
    `Checked ${report.checked} booking(s) with a PayPal order changed since ${report.since}.`,
    ...report.mismatches.map((m) => {
      const outcome =
        m.repaired === null
          ? ''
          : m.repaired
            ? `  -> repaired, booking ${m.after}`
            : '  -> NOT repaired: needs a person';
      return `${m.kind.padEnd(28)} booking ${m.bookingId} (${m.bookingStatus}) order ${m.orderId ?? '-'}: ${m.detail}${outcome}`;
    }),
  ];
  if (report.unreachable > 0)
    lines.push(`${report.unreachable} booking(s) could not be checked: PayPal did not answer.`);
  if (report.mismatches.length === 0) lines.push('No mismatches.');
  else if (!repair) lines.push(`${report.mismatches.length} mismatch(es). Run with --repair to settle them.`);
  return lines;
}

/** `pnpm reconcile`'s arguments: `--since <n>h|<n>d` (default 7d), `--repair`, `--json`. */
export const RECONCILE_USAGE = 'usage: pnpm reconcile [--since <n>h|<n>d] [--repair] [--json]';

export function parseReconcileArgs(argv: string[]): { sinceHours: number; repair: boolean; json: boolean } {
  let sinceHours = 24 * 7;
  let repair = false;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--repair') repair = true;
    else if (arg === '--json') json = true;
    else if (arg === '--since' || arg.startsWith('--since=')) {
      const value = arg === '--since' ? argv[++i] : arg.slice('--since='.length);
      const match = /^(\d{1,5})([hd])$/.exec(value ?? '');
      if (!match) throw new Error(`--since takes a duration such as 12h or 7d, got "${value ?? ''}"`);
      sinceHours = Number(match[1]) * (match[2] === 'd' ? 24 : 1);
    } else if (arg !== '--') throw new Error(`unknown argument "${arg}"`);
  }
  return { ...ReconcileInputSchema.parse({ sinceHours, repair }), json };
}
