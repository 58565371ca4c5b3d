-- Hourly workload: a new customer signs up (appended row).
-- Variables: hour_start.
\set sec random(0, 3599)
\set s random(1, 1000000000)
\set n random(0, 99)
INSERT INTO customers (first_name, last_name, email, phone, street, city, postal_code,
                       country, created_at, updated_at, loyalty_points, notes)
SELECT f, l, lower(f) || '.' || lower(l) || :n || '@' || benchgen.mail_domain(:s),
       '+49 ' || lpad((:s % 1000)::text, 3, '0') || ' ' || lpad((:s % 99991)::text, 5, '0'),
       benchgen.street(:s), benchgen.city(:s + 5), lpad((:s % 99999)::text, 5, '0'), 'DE',
       to_timestamp(:hour_start + :sec), to_timestamp(:hour_start + :sec), 0,
       CASE WHEN :s % 4 = 0 THEN benchgen.lorem(:s, 10) END
  FROM (SELECT benchgen.first_name(:s) AS f, benchgen.last_name(:s + 1) AS l) AS p;
