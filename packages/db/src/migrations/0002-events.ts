export const sql = /* sql */ `
CREATE EXTENSION IF NOT EXISTS cube;
CREATE EXTENSION IF NOT EXISTS earthdistance;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE events (
  id uuid PRIMARY KEY,
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  venue_name text NOT NULL,
  address text NOT NULL,
  formatted_address text,
  latitude double precision,
  longitude double precision,
  place_id text,
  starts_at timestamptz NOT NULL,
  ends_at timestamptz,
  timezone text NOT NULL,
  price_minor integer NOT NULL CHECK (price_minor >= 0),
  currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  capacity integer NOT NULL CHECK (capacity > 0),
  available integer NOT NULL,
  held integer NOT NULL DEFAULT 0,
  sold integer NOT NULL DEFAULT 0,
  max_per_order integer NOT NULL CHECK (max_per_order >= 1),
  max_per_user integer NOT NULL CHECK (max_per_user >= 1),
  status text NOT NULL CHECK (status IN ('draft', 'published', 'cancelled')),
  created_by uuid NOT NULL REFERENCES users (id),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- the ticket invariant: overselling is impossible whatever the application does
  CONSTRAINT events_tickets_balance CHECK (
    available >= 0 AND held >= 0 AND sold >= 0 AND available + held + sold = capacity
  ),
  CONSTRAINT events_coordinates_pair CHECK ((latitude IS NULL) = (longitude IS NULL)),
  CONSTRAINT events_latitude_range CHECK (latitude IS NULL OR latitude BETWEEN -90 AND 90),
  CONSTRAINT events_longitude_range CHECK (longitude IS NULL OR longitude BETWEEN -180 AND 180),
  CONSTRAINT events_ends_after_start CHECK (ends_at IS NULL OR ends_at > starts_at)
);

-- Keyset pagination: (sort key, id) per sort order, filtered by status first.
CREATE INDEX events_status_starts_idx ON events (status, starts_at, id);
CREATE INDEX events_status_price_idx ON events (status, price_minor, id);
-- "near" search: no PostGIS here, so cube + earthdistance; earth_box(...) @> ll_to_earth(...) uses this GiST index.
CREATE INDEX events_location_idx ON events USING gist (ll_to_earth(latitude, longitude)) WHERE latitude IS NOT NULL;
-- Text search with ILIKE '%term%' is served by a trigram index over the searchable text.
CREATE INDEX events_search_idx ON events USING gin ((title || ' ' || description || ' ' || venue_name) gin_trgm_ops);

-- Geocoding results, so an address is paid for once.
CREATE TABLE geocode_cache (
  address_key text PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('OK', 'ZERO_RESULTS')),
  latitude double precision,
  longitude double precision,
  formatted_address text,
  place_id text,
  created_at timestamptz NOT NULL DEFAULT now()
);
`;
