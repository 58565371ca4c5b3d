--
-- PostgreSQL database dump
--

\restrict fZZPF5Kj0CPiLke7lt4qCjIY0iXHu7LQ7VeGlbVL1UraIOWF6NzpctWWwdV11jp

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: t; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.t (
    a integer NOT NULL,
    b text
);


ALTER TABLE public.t OWNER TO postgres;

--
-- Name: 16420; Type: BLOB; Schema: -; Owner: postgres
--

SELECT pg_catalog.lo_create('16420');


ALTER LARGE OBJECT 16420 OWNER TO postgres;

--
-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public.t (a, b) FROM stdin;
1	row 1
2	row 2
3	row 3
4	row 4
5	row 5
6	row 6
7	row 7
8	row 8
9	row 9
10	row 10
11	row 11
12	row 12
13	row 13
14	row 14
15	row 15
16	row 16
17	row 17
18	row 18
19	row 19
20	row 20
\.


--
-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -
--

BEGIN;

SELECT pg_catalog.lo_open('16420', 131072);
SELECT pg_catalog.lowrite(0, '\x6c6f2064617461');
SELECT pg_catalog.lo_close(0);

COMMIT;

--
-- Name: t t_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.t
    ADD CONSTRAINT t_pkey PRIMARY KEY (a);


--
-- PostgreSQL database dump complete
--

\unrestrict fZZPF5Kj0CPiLke7lt4qCjIY0iXHu7LQ7VeGlbVL1UraIOWF6NzpctWWwdV11jp

