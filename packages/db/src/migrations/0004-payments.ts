export const sql = /* sql */ `
-- PayPal's approval link for an open hold, so a buyer who lost the page can resume.
ALTER TABLE bookings ADD COLUMN payment_url text;

-- Money that moved at the provider: one row per capture or refund, keyed by the provider's id,
-- so a duplicate callback or webhook can never record the same money twice.
CREATE TABLE payments (
  id uuid PRIMARY KEY,
  booking_id uuid NOT NULL REFERENCES bookings (id),
  provider text NOT NULL CHECK (provider IN ('paypal')),
  kind text NOT NULL CHECK (kind IN ('capture', 'refund')),
  provider_ref text NOT NULL,
  status text NOT NULL,
  amount_minor integer NOT NULL CHECK (amount_minor >= 0),
  currency char(3) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX payments_provider_ref_key ON payments (provider, kind, provider_ref);
CREATE INDEX payments_booking_idx ON payments (booking_id);
`;
