-- Hourly workload: a customer profile changes; zipfian over customer ids
-- (a few "hot" regular customers get most of the updates).
-- Variables: hour_start, maxcust.
\set cid random_zipfian(1, :maxcust, 1.1)
\set sec random(0, 3599)
\set s random(1, 1000000000)
\set pts random(1, 500)
UPDATE customers
   SET loyalty_points = loyalty_points + :pts,
       updated_at = to_timestamp(:hour_start + :sec),
       street = CASE WHEN :s % 10 = 0 THEN benchgen.street(:s) ELSE street END,
       notes = CASE WHEN :s % 4 = 0 THEN benchgen.lorem(:s, 12) ELSE notes END
 WHERE id = :cid;
