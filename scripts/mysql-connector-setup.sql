-- Latch's connector account for MySQL 8.0+ and MariaDB 10.5+: the least it needs.
--
-- Run as an administrator, after replacing the example names:
--   latch_connector        the connector account (connection.user in latch.config.yaml)
--   '%'                    where Latch connects from (narrow it: '10.0.3.%', 'latch.internal')
--   CHANGE-ME-connector-password   its password; give it to Latch as credentials: { env: VARIABLE }
--   app_readonly, app_readwrite    the roles your permissions name (roles: [...])
--   appdb                  the schema your permissions grant on directly (grants: [...])
-- Keep the part for your server and delete the other one (the lines between
-- "-- BEGIN mariadb" / "-- END mariadb" and "-- BEGIN mysql" / "-- END mysql").
-- Then check it from Latch: the integration's health check reads the connector's own
-- SHOW GRANTS and says what is missing.
--
-- What Latch does with it (docs/provisioners/mysql.md): per grant it creates an account
-- `<instance>_<person>_<random>`@userHost with a random password, grants it roles or
-- privileges, and at expiry locks it, kills its sessions and drops it.

CREATE USER 'latch_connector'@'%' IDENTIFIED BY 'CHANGE-ME-connector-password';

-- Create, change (new password on a retried grant), lock and drop the accounts Latch
-- manages. On MySQL 8 this also covers SET DEFAULT ROLE ... TO another account and
-- REVOKE ALL PRIVILEGES, GRANT OPTION FROM it.
GRANT CREATE USER ON *.* TO 'latch_connector'@'%';

-- See every account's sessions in the process list, so revoke can find them.
GRANT PROCESS ON *.* TO 'latch_connector'@'%';

-- Read the grant tables: which accounts exist (listManaged, revoke), what they hold (check),
-- and whether a role really is a role without an administrator's privileges.
GRANT SELECT ON mysql.user TO 'latch_connector'@'%';
GRANT SELECT ON mysql.db TO 'latch_connector'@'%';
GRANT SELECT ON mysql.tables_priv TO 'latch_connector'@'%';

-- BEGIN mariadb
-- MariaDB 10.5.2+: KILL other accounts' sessions (before 10.5.2 only SUPER could).
GRANT CONNECTION ADMIN ON *.* TO 'latch_connector'@'%';
GRANT SELECT ON mysql.roles_mapping TO 'latch_connector'@'%';
-- Default roles: MariaDB lets one account set another's default role only with UPDATE on
-- the whole mysql schema, which would let the connector rewrite any account's privileges.
-- Latch does not ask for it: it logs in once as the new account and runs SET DEFAULT ROLE
-- itself, which needs the userHost pattern to match the address Latch connects from.
-- (If you grant UPDATE ON mysql.* anyway, Latch uses SET DEFAULT ROLE ... FOR instead.)
-- END mariadb

-- BEGIN mysql
-- MySQL 8.0: KILL other accounts' sessions. (Amazon RDS withholds CONNECTION_ADMIN on
-- 8.0.36+; there, GRANT EXECUTE ON PROCEDURE mysql.rds_kill instead: Latch falls back to it.)
GRANT CONNECTION_ADMIN ON *.* TO 'latch_connector'@'%';
GRANT SELECT ON mysql.role_edges TO 'latch_connector'@'%';
GRANT SELECT ON mysql.global_grants TO 'latch_connector'@'%';
-- Do NOT grant SYSTEM_USER. Since MySQL 8.0.16 an account without it cannot change, drop or
-- kill the sessions of an account that has it: a connector without SYSTEM_USER can never
-- touch root or another system account, whatever it is asked to do. The flip side: never
-- put SYSTEM_USER into a role Latch hands out (Latch refuses such roles, and could not lock,
-- kill or drop the account afterwards). Roles are granted WITH ADMIN OPTION below; ROLE_ADMIN
-- would let the connector grant every role (and every account used as a role), so prefer
-- the per-role grant.
-- END mysql

-- Roles form (permissions with roles: [...]): the connector may grant exactly these roles.
-- It needs no privilege on the data the roles give. The roles must not hold SUPER, CREATE
-- USER, GRANT OPTION, FILE, SHUTDOWN or RELOAD globally: Latch refuses to hand those out.
GRANT app_readonly TO 'latch_connector'@'%' WITH ADMIN OPTION;
GRANT app_readwrite TO 'latch_connector'@'%' WITH ADMIN OPTION;

-- Grants form (permissions with grants: [...]): the connector may only pass on what it
-- holds WITH GRANT OPTION, so name every privilege your permissions grant on that schema.
-- Escape "_" and "%" in the schema name (`app\_data`): unescaped they are wildcards, and
-- `app_data`.* would also cover a schema named appXdata.
GRANT SELECT, INSERT, UPDATE, DELETE ON `appdb`.* TO 'latch_connector'@'%' WITH GRANT OPTION;
