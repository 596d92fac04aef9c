export const sql = /* sql */ `
CREATE TABLE bookings (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id),
  event_id uuid NOT NULL REFERENCES events (id),
  quantity integer NOT NULL CHECK (quantity > 0),
  unit_price_minor integer NOT NULL CHECK (unit_price_minor >= 0),
  total_minor integer NOT NULL,
  currency char(3) NOT NULL,
  status text NOT NULL CHECK (status IN ('HELD', 'CONFIRMED', 'CANCELLED', 'EXPIRED', 'REFUNDED')),
  hold_expires_at timestamptz NOT NULL,
  paypal_order_id text,
  paypal_capture_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  confirmed_at timestamptz,
  cancelled_at timestamptz,
  expired_at timestamptz,
  refunded_at timestamptz,
  CONSTRAINT bookings_total CHECK (total_minor = unit_price_minor * quantity)
);
CREATE UNIQUE INDEX bookings_paypal_order_key ON bookings (paypal_order_id);
CREATE UNIQUE INDEX bookings_paypal_capture_key ON bookings (paypal_capture_id);
-- One open hold per user, enforced by the database rather than by a read.
CREATE UNIQUE INDEX bookings_one_hold_per_user ON bookings (user_id) WHERE status = 'HELD';
CREATE INDEX bookings_event_user_live_idx ON bookings (event_id, user_id) WHERE status IN ('HELD', 'CONFIRMED');
CREATE INDEX bookings_hold_expiry_idx ON bookings (hold_expires_at) WHERE status = 'HELD';
CREATE INDEX bookings_user_created_idx ON bookings (user_id, created_at DESC, id DESC);
CREATE INDEX bookings_created_idx ON bookings (created_at DESC, id DESC);

-- A retried request with the same key returns the first response.
CREATE TABLE idempotency_keys (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  scope text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  state text NOT NULL CHECK (state IN ('in_flight', 'completed')),
  response jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, scope, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

-- Durable jobs (hold expiry now, webhook processing later), claimed with FOR UPDATE SKIP LOCKED.
CREATE TABLE jobs (
  id bigserial PRIMARY KEY,
  queue text NOT NULL,
  payload jsonb NOT NULL,
  dedupe_key text,
  run_at timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 10,
  locked_until timestamptz,
  last_error text,
  done_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX jobs_dedupe_key ON jobs (queue, dedupe_key);
CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE done_at IS NULL;
`;
