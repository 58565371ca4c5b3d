-- Hourly workload: a new order (appended row) plus its "created" event.
-- Recent customers order more (exponential over customer age).
-- Variables: hour_start, maxcust.
\set cage random_exponential(0, :maxcust - 1, 4.0)
\set cid :maxcust - :cage
\set sec random(0, 3599)
\set s random(1, 1000000000)
\set items random(1, 8)
\set cents random(299, 19999)
\set nw random(6, 24)
BEGIN;
INSERT INTO orders (customer_id, status, currency, total_cents, item_count,
                    shipping_street, shipping_city, shipping_postal, shipping_country,
                    created_at, updated_at, comment)
SELECT id, 'new', 'EUR', :cents * :items, :items, street, city, postal_code, country,
       to_timestamp(:hour_start + :sec), to_timestamp(:hour_start + :sec),
       CASE WHEN :s % 3 = 0 THEN benchgen.lorem(:s, :nw) END
  FROM customers WHERE id = :cid;
INSERT INTO order_events (order_id, kind, actor, created_at, message)
VALUES (lastval(), 'created', benchgen.actor(:s + 1), to_timestamp(:hour_start + :sec),
        benchgen.lorem(:s + 1, 8));
END;
