export const sql = /* sql */ `
-- Rate-limit counters shared by every instance (rate-limiter-flexible's PostgreSQL store). The
-- library inserts positionally, so the columns keep its order: key, points, expire (epoch ms).
-- key is text, not the library's varchar(255): keys carry an address and an account digest.
CREATE TABLE rate_limits (
  key text PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);
-- the periodic sweep deletes rows by expiry
CREATE INDEX rate_limits_expire_idx ON rate_limits (expire);
`;
