export const sql = /* sql */ `
-- One ticket per admission of a CONFIRMED booking (issued in the transaction that confirms it).
-- (booking_id, seq) is unique, so issuing a booking's tickets twice adds nothing. A ticket's code is
-- not stored: it is the Ed25519 signature of (ticket id, event id), deterministic, made when shown
-- and verified with the public key alone, so a database read never yields a valid code by itself.
CREATE TABLE tickets (
  id uuid PRIMARY KEY,
  booking_id uuid NOT NULL REFERENCES bookings (id),
  event_id uuid NOT NULL REFERENCES events (id),
  user_id uuid NOT NULL REFERENCES users (id),
  seq integer NOT NULL CHECK (seq >= 1),
  attendee_name text CHECK (char_length(attendee_name) BETWEEN 1 AND 120),
  status text NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'void')),
  void_reason text CHECK (void_reason IN ('refunded', 'event_cancelled')),
  voided_at timestamptz,
  -- the first admission: when, by whom, and whether it came from a live scan or an offline upload
  checked_in_at timestamptz,
  checked_in_by uuid REFERENCES users (id),
  check_in_source text CHECK (check_in_source IN ('online', 'offline')),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  UNIQUE (booking_id, seq),
  CHECK ((status = 'void') = (voided_at IS NOT NULL)),
  CHECK ((checked_in_at IS NULL) = (checked_in_by IS NULL))
);
CREATE INDEX tickets_event_idx ON tickets (event_id);
CREATE INDEX tickets_user_idx ON tickets (user_id);

-- Door staff: an admin grants a user the right to check in one event's tickets.
CREATE TABLE event_staff (
  event_id uuid NOT NULL REFERENCES events (id),
  user_id uuid NOT NULL REFERENCES users (id),
  granted_by uuid REFERENCES users (id),
  granted_at timestamptz NOT NULL,
  PRIMARY KEY (event_id, user_id)
);
CREATE INDEX event_staff_user_idx ON event_staff (user_id);

-- Mail to send, one row per (kind, subject): asking again for the same mail finds its row, so a
-- retried job or a repeated callback never sends twice. sent_at says it went out.
CREATE TABLE mail_outbox (
  id uuid PRIMARY KEY,
  kind text NOT NULL,
  subject_key text NOT NULL,
  intent jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  sent_at timestamptz,
  recipient text,
  message_id text,
  UNIQUE (kind, subject_key)
);
CREATE INDEX mail_outbox_unsent_idx ON mail_outbox (created_at) WHERE sent_at IS NULL;
`;
