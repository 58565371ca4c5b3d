--
-- PostgreSQL database cluster dump
--

\restrict aLSVngQVBS6Tl4ugF21dx7rwlqJuQdbElU9YvpTLLBMxf2Tbq8NUbyAakZsBwMT

SET default_transaction_read_only = off;

SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;

--
-- Roles
--

CREATE ROLE postgres;
ALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;

--
-- User Configurations
--








\unrestrict aLSVngQVBS6Tl4ugF21dx7rwlqJuQdbElU9YvpTLLBMxf2Tbq8NUbyAakZsBwMT

--
-- PostgreSQL database cluster dump complete
--

