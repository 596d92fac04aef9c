export const sql = /* sql */ `
-- The on-sale window: before sales_start_at nothing is sold, from sales_end_at nothing more.
ALTER TABLE events
  ADD COLUMN sales_start_at timestamptz,
  ADD COLUMN sales_end_at timestamptz,
  ADD CONSTRAINT events_sales_window CHECK (
    sales_end_at IS NULL OR sales_start_at IS NULL OR sales_end_at > sales_start_at
  );

-- An event's waiting room (one per event; its existence is what "enabled" means). The admission
-- job is its only writer once it is drawn: drawn_at (the opening draw happened), next_no (the
-- number the next late arrival gets), serving_no (every ticket number up to it has been admitted).
CREATE TABLE waiting_rooms (
  event_id uuid PRIMARY KEY REFERENCES events (id),
  lead_minutes integer NOT NULL CHECK (lead_minutes >= 0),
  drawn_at timestamptz,
  next_no integer NOT NULL DEFAULT 1,
  serving_no integer NOT NULL DEFAULT 0,
  admitted_total integer NOT NULL DEFAULT 0,
  admission_rate_per_minute double precision NOT NULL DEFAULT 0,
  finished_at timestamptz,
  finish_reason text CHECK (finish_reason IN ('sold_out', 'sales_ended', 'event_closed')),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

-- One place per buyer and event (the primary key), one ticket number per place and one admission
-- number per admission (the unique constraints): so nobody is in line twice or admitted twice.
CREATE TABLE queue_entries (
  event_id uuid NOT NULL REFERENCES waiting_rooms (event_id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id),
  -- drawn at join for those who joined before the opening; their order is this key's
  draw_key double precision NOT NULL,
  ticket_no integer,
  status text NOT NULL CHECK (status IN ('waiting', 'admitted', 'booked', 'expired', 'sold_out', 'closed')),
  joined_at timestamptz NOT NULL,
  admission_no integer,
  admitted_at timestamptz,
  admission_expires_at timestamptz,
  settled_at timestamptz,
  PRIMARY KEY (event_id, user_id),
  UNIQUE (event_id, ticket_no),
  UNIQUE (event_id, admission_no),
  CHECK ((status = 'waiting') = (admitted_at IS NULL) OR status IN ('sold_out', 'closed'))
);
CREATE INDEX queue_entries_line_idx ON queue_entries (event_id, ticket_no) WHERE status = 'waiting';
CREATE INDEX queue_entries_admitted_idx ON queue_entries (event_id, admission_expires_at) WHERE status = 'admitted';

-- Who wants tickets once an event sold out, in order of joining (seq). One open entry per buyer
-- and event; an offer is a HELD booking placed for the entry (booking_id).
CREATE TABLE waitlist_entries (
  id uuid PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  event_id uuid NOT NULL REFERENCES events (id),
  user_id uuid NOT NULL REFERENCES users (id),
  quantity integer NOT NULL CHECK (quantity >= 1),
  status text NOT NULL CHECK (status IN ('waiting', 'offered', 'booked', 'passed', 'left')),
  joined_at timestamptz NOT NULL,
  offered_at timestamptz,
  offer_expires_at timestamptz,
  booking_id uuid REFERENCES bookings (id),
  updated_at timestamptz NOT NULL,
  CHECK ((status IN ('offered', 'booked', 'passed')) = (booking_id IS NOT NULL) OR status = 'left')
);
CREATE UNIQUE INDEX waitlist_entries_open_idx ON waitlist_entries (event_id, user_id)
  WHERE status IN ('waiting', 'offered');
CREATE INDEX waitlist_entries_line_idx ON waitlist_entries (event_id, seq) WHERE status = 'waiting';
CREATE INDEX waitlist_entries_offered_idx ON waitlist_entries (event_id) WHERE status = 'offered';
`;
