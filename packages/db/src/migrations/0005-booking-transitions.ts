export const sql = /* sql */ `
-- Booking status only moves along the state machine; anything else is refused by the database.
-- EXPIRED -> CONFIRMED is the one way back: a buyer who paid after the hold lapsed, while tickets remained.
CREATE FUNCTION bookings_status_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = OLD.status THEN
    RETURN NEW;
  END IF;
  IF (OLD.status = 'HELD' AND NEW.status IN ('CONFIRMED', 'CANCELLED', 'EXPIRED'))
     OR (OLD.status = 'EXPIRED' AND NEW.status = 'CONFIRMED')
     OR (OLD.status = 'CONFIRMED' AND NEW.status = 'REFUNDED') THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'booking % cannot move from % to %', OLD.id, OLD.status, NEW.status
    USING ERRCODE = 'check_violation', CONSTRAINT = 'bookings_status_forward';
END;
$$;

CREATE TRIGGER bookings_status_forward BEFORE UPDATE OF status ON bookings
  FOR EACH ROW EXECUTE FUNCTION bookings_status_forward();
`;
