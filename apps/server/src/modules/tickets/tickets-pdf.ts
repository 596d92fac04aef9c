import type { EntityManager } from '@boxoffice/db';
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import { formatLocalTime } from '../../lib/local-time.ts';
import type { TicketSigner } from './ticket-code.ts';
import { ticketRowsOfBooking } from './tickets.service.ts';

export type PdfOptions = {
  /** false writes uncompressed content streams (readable in a test without a PDF parser). */
  compress?: boolean;
};

/**
 * A booking's tickets as a PDF, one A5 page per ticket: event, venue, the local start time in the
 * event's time zone, the attendee, the QR code and the code as text (for a scanner that types it).
 */
export async function renderTicketsPdf(
  em: EntityManager,
  signer: TicketSigner,
  bookingId: string,
  opts: PdfOptions = {},
): Promise<Buffer> {
  const rows = await ticketRowsOfBooking(em, bookingId);
  const doc = new PDFDocument({
    size: 'A5',
    margin: 36,
    autoFirstPage: false,
    compress: opts.compress ?? true,
    info: { Title: `Tickets ${bookingId}`, Creator: 'Boxoffice' },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  for (const row of rows) {
    const code = signer.code({ ticketId: row.id, eventId: row.event_id });
    const qr = await QRCode.toBuffer(code, { type: 'png', errorCorrectionLevel: 'M', margin: 1, width: 600 });
    doc.addPage();
    const width = doc.page.width - 72;
    doc.fillColor('#57606a').font('Helvetica').fontSize(9).text(`BOXOFFICE TICKET ${row.seq} OF ${rows.length}`);
    doc.moveDown(0.4).fillColor('#1f2328').font('Helvetica-Bold').fontSize(18).text(row.title, { width });
    doc
      .moveDown(0.3)
      .font('Helvetica')
      .fontSize(11)
      .text(formatLocalTime(new Date(row.starts_at), row.timezone));
    doc.text(`${row.venue_name}, ${row.address}`, { width });
    doc.moveDown(0.3).text(`Attendee: ${row.attendee_name ?? '(not named)'}`);
    if (row.status === 'void') doc.fillColor('#b3261e').text(`VOID (${row.void_reason})`).fillColor('#1f2328');
    const size = 250;
    doc.image(qr, (doc.page.width - size) / 2, doc.y + 12, { width: size, height: size });
    doc.y += size + 24;
    doc.x = 36;
    doc.font('Courier').fontSize(4.2).text(code, { width, align: 'center', lineBreak: false });
    doc.moveDown(1).font('Helvetica').fontSize(8).fillColor('#57606a').text(`Ticket ${row.id} · booking ${bookingId}`);
  }
  if (rows.length === 0) doc.addPage().font('Helvetica').fontSize(12).text('This booking has no tickets yet.');
  doc.end();
  return done;
}
