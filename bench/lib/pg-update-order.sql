-- Hourly workload: an existing order changes status (most hits on recent
-- orders: exponential over "age" = distance from the newest id), an event
-- row is appended, and sometimes the free-text comment is rewritten.
-- Variables from make-corpus.sh: hour_start, maxorder, recency.
\set age random_exponential(0, :maxorder - 1, :recency)
\set oid :maxorder - :age
\set st random(1, 6)
\set sec random(0, 3599)
\set s random(1, 1000000000)
\set nw random(4, 16)
BEGIN;
UPDATE orders
   SET status = (ARRAY['paid','packed','shipped','delivered','returned','cancelled'])[:st],
       updated_at = to_timestamp(:hour_start + :sec),
       comment = CASE WHEN :s % 5 = 0 THEN benchgen.lorem(:s + 7, :nw) ELSE comment END
 WHERE id = :oid;
INSERT INTO order_events (order_id, kind, actor, created_at, message)
VALUES (:oid,
        (ARRAY['payment_captured','packed','shipped','delivered','refund_requested','support_note'])[:st],
        benchgen.actor(:s), to_timestamp(:hour_start + :sec), benchgen.lorem(:s, :nw));
END;
