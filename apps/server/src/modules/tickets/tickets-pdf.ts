import type { EntityManager } from '@boxoffice/db';
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import { formatLocalTime } from '../../lib/local-time.ts';
import type { TicketSigner } from './ticket-code.ts';
import { ticketRowsOfBooking } from './tickets.service.ts';

/**
 * The QR code drawn as vector squares from the symbol's module matrix: sharp at any zoom, and a
 * page costs about 5 ms of CPU instead of 70 with a rendered PNG embedded (a mail job's PDF runs on
 * the server's event loop, beside its requests). One quiet-zone module of margin, as the PNG had.
 */
function drawQrCode(doc: PDFKit.PDFDocument, code: string, x: number, y: number, size: number): void {
  const { modules } = QRCode.create(code, { errorCorrectionLevel: 'M' });
  const cell = size / (modules.size + 2);
  doc.save().rect(x, y, size, size).fill('#ffffff').fillColor('#000000');
  for (let row = 0; row < modules.size; row++)
    for (let col = 0; col < modules.size; col++)
      if (modules.get(row, col)) doc.rect(x + (col + 1) * cell, y + (row + 1) * cell, cell, cell);
  doc.fill('#000000').restore();
}

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
    drawQrCode(doc, code, (doc.page.width - size) / 2, doc.y + 12, size);
    doc.y += size + 24;
    doc.x = 36;
    doc.font('Courier').fontSize(4.2).text(code, { width, align: 'center', lineBreak: false });
    doc.moveDown(1).font('Helvetica').fontSize(8).fillColor('#57606a').text(`Ticket ${row.id} · booking ${bookingId}`);
  }
  if (rows.length === 0) doc.addPage().font('Helvetica').fontSize(12).text('This booking has no tickets yet.');
  doc.end();
  return done;
}
