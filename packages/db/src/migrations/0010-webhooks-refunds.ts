export const sql = /* sql */ `
-- PayPal's webhook events, each stored once by its id: a replayed or duplicate delivery finds its
-- row and changes nothing. Processing happens in a job; processed_at says it is done.
CREATE TABLE webhook_events (
  provider text NOT NULL CHECK (provider IN ('paypal')),
  event_id text NOT NULL,
  event_type text NOT NULL,
  resource_type text,
  resource_id text,
  transmission_id text NOT NULL,
  body jsonb NOT NULL,
  received_at timestamptz NOT NULL,
  processed_at timestamptz,
  outcome text,
  PRIMARY KEY (provider, event_id)
);
CREATE INDEX webhook_events_unprocessed_idx ON webhook_events (received_at) WHERE processed_at IS NULL;

-- A booking's money going back, asked for once (refunds are full, so one per booking): by an admin,
-- by the event's cancellation, or by PayPal itself (a dashboard refund, a chargeback). The money
-- that moved is in payments; this row says why, and whether the refund is still to succeed.
CREATE TABLE refund_requests (
  booking_id uuid PRIMARY KEY REFERENCES bookings (id),
  source text NOT NULL CHECK (source IN ('admin', 'event_cancelled', 'paypal')),
  reason text NOT NULL,
  requested_by uuid REFERENCES users (id),
  status text NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
  last_error text,
  requested_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  completed_at timestamptz
);
CREATE INDEX refund_requests_open_idx ON refund_requests (status) WHERE status <> 'completed';

-- Reconciliation walks bookings with a PayPal order changed within a window.
CREATE INDEX bookings_paypal_updated_idx ON bookings (updated_at) WHERE paypal_order_id IS NOT NULL;
`;
