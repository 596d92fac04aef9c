export const sql = /* sql */ `
-- Set, under the event and booking locks, when money taken for a booking will be given back: from
-- then on the booking can never be revived into CONFIRMED by a late return visit.
ALTER TABLE bookings ADD COLUMN refund_due_at timestamptz;

-- A job waiting on PayPal (a pending capture, a refund to retry) keeps trying, slower and slower.
ALTER TABLE jobs ALTER COLUMN max_attempts SET DEFAULT 1000;
`;
