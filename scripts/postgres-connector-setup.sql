-- Least-privilege setup of the role Latch's PostgreSQL provisioner logs in as (the
-- "connector"). Run it once per server as a superuser (or the cloud admin role), with psql:
--
--   psql "host=db.internal dbname=postgres user=postgres" \
--     -v connector=latch_connector \
--     -v group_roles=orders_readonly,orders_readwrite \
--     -v databases=orders,orders_archive \
--     -f scripts/postgres-connector-setup.sql
--
-- then give the connector a password without it touching the shell history or the server
-- log (psql's \password computes the SCRAM verifier on your machine):
--
--   psql "host=db.internal dbname=postgres user=postgres" -c '\password latch_connector'
--
-- and hand that password to Latch through the environment variable named in the config
-- (credentials: { env: ORDERS_PG_PASSWORD }).
--
-- What the connector gets, and why it needs no more:
--   CREATEROLE                   create a login role per grant, set its password and VALID UNTIL,
--                                comment it, drop it at revoke. (A CREATEROLE role cannot create or
--                                change superusers, and Latch creates every role NOSUPERUSER.)
--   ADMIN OPTION on each group   make a login role a member of the group roles a permission names,
--   role                         and take the membership away again. PostgreSQL 16 and later
--                                require it; before 16 CREATEROLE alone would do, but granting it
--                                keeps the setup the same everywhere and documents what Latch may hand out.
--   CONNECT on each database     at revoke Latch reassigns whatever the login role owns in each
--                                database to the connector and drops its remaining privileges there.
-- It gets no SUPERUSER and no privileges on any table. On PostgreSQL 16 and later the ADMIN
-- OPTION comes with INHERIT FALSE, SET FALSE: the connector may hand the group roles out but
-- cannot use them. Before 16 a membership always carries the group's privileges, so there the
-- connector can read what the groups can read; keep that in mind when choosing the groups.
-- Ending a grantee's sessions needs no
-- pg_signal_backend either: at revoke the connector makes itself a member of the login role
-- it is about to drop, which lets it end that role's sessions and reassign its objects.
--
-- The group roles themselves are yours: they hold the privileges (GRANT SELECT ON ... TO
-- orders_readonly) and are not created here. An example is at the end of this file.
--
-- The script is idempotent: run it again after adding a group role or a database.

\set ON_ERROR_STOP on

-- psql variables are not expanded inside the DO block below, so they travel in as settings
-- of this session.
SELECT set_config('latch_setup.connector', :'connector', false),
       set_config('latch_setup.group_roles', :'group_roles', false),
       set_config('latch_setup.databases', :'databases', false);

DO $setup$
DECLARE
  connector text := current_setting('latch_setup.connector');
  group_role text;
  database text;
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = connector AND rolsuper) THEN
    RAISE EXCEPTION 'role % is a superuser; use a separate, non-superuser connector role', connector;
  END IF;

  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = connector) THEN
    EXECUTE format('CREATE ROLE %I WITH LOGIN CREATEROLE NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS', connector);
  ELSE
    EXECUTE format('ALTER ROLE %I WITH LOGIN CREATEROLE', connector);
  END IF;
  EXECUTE format('COMMENT ON ROLE %I IS %L', connector, 'Latch connector: creates and drops just-in-time login roles');

  FOREACH group_role IN ARRAY string_to_array(current_setting('latch_setup.group_roles'), ',') LOOP
    group_role := btrim(group_role);
    CONTINUE WHEN group_role = '';
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = group_role) THEN
      RAISE EXCEPTION 'group role % does not exist; create it and grant it its privileges first', group_role;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = group_role AND rolsuper) THEN
      RAISE EXCEPTION 'group role % is a superuser role; Latch refuses to grant membership in it', group_role;
    END IF;
    IF current_setting('server_version_num')::int >= 160000 THEN
      EXECUTE format('GRANT %I TO %I WITH ADMIN OPTION, INHERIT FALSE, SET FALSE', group_role, connector);
    ELSE
      EXECUTE format('GRANT %I TO %I WITH ADMIN OPTION', group_role, connector);
    END IF;
  END LOOP;

  FOREACH database IN ARRAY string_to_array(current_setting('latch_setup.databases'), ',') LOOP
    database := btrim(database);
    CONTINUE WHEN database = '';
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', database, connector);
  END LOOP;
END
$setup$;

-- Check what the connector can do (the provisioner's health() reports the same):
SELECT r.rolname AS connector, r.rolcreaterole AS createrole, r.rolsuper AS superuser,
       (SELECT string_agg(g.rolname, ', ' ORDER BY g.rolname)
          FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
         WHERE m.member = r.oid AND m.admin_option) AS admin_of
  FROM pg_roles r
 WHERE r.rolname = current_setting('latch_setup.connector');

-- Example group roles (not run; adapt and run in the application database):
--
--   CREATE ROLE orders_readonly NOLOGIN;
--   GRANT CONNECT ON DATABASE orders TO orders_readonly;
--   GRANT USAGE ON SCHEMA public TO orders_readonly;
--   GRANT SELECT ON ALL TABLES IN SCHEMA public TO orders_readonly;
--   ALTER DEFAULT PRIVILEGES FOR ROLE orders_owner IN SCHEMA public GRANT SELECT ON TABLES TO orders_readonly;
--
--   CREATE ROLE orders_readwrite NOLOGIN;
--   GRANT orders_readonly TO orders_readwrite;
--   GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO orders_readwrite;
--   GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO orders_readwrite;
--   ALTER DEFAULT PRIVILEGES FOR ROLE orders_owner IN SCHEMA public GRANT INSERT, UPDATE, DELETE ON TABLES TO orders_readwrite;
