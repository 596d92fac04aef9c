export const sql = /* sql */ `
-- An event's version changes with every write of its row (ticket moves included), in one place, so
-- nothing bumps it by hand and a client can tell whether what it read is still current.
CREATE FUNCTION events_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  RETURN NEW;
END;
$$;

CREATE TRIGGER events_bump_version BEFORE UPDATE ON events
  FOR EACH ROW EXECUTE FUNCTION events_bump_version();
`;
