/**
 * An instant as people at the venue read it: the event's own time zone, with the zone's short name,
 * so a ticket or a mail never shows the server's or the reader's local time.
 */
export function formatLocalTime(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  }).format(at);
}
