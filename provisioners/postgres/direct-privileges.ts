import pg from 'pg';

// Privileges granted to a login role directly (GRANT SELECT ON t TO latch_alice_x), found
// the way PostgreSQL itself finds them for DROP OWNED: through pg_shdepend, whose 'a'
// (ACL) rows name every object that mentions the role in its access list. The owner of an
// object is never recorded there, so these rows are exactly the objects the role does NOT
// own, and revoking on them cannot touch what the role owns nor what it granted others on
// its own objects. That is what keeping a revoked role needs: DROP OWNED would revoke the
// same privileges but also drop every object the role owns.
//
// Object names come from the catalogs, quoted by the server (format('%I')); the privilege
// keyword (TABLE, SCHEMA, ...) is chosen here from a fixed list, never from the catalog.

const { escapeIdentifier } = pg;

/** The object kinds REVOKE ... ON <kind> takes, as the query below names them. */
const KINDS = new Set(['TABLE', 'SEQUENCE', 'SCHEMA', 'ROUTINE', 'TYPE', 'DOMAIN', 'LANGUAGE', 'LARGE OBJECT', 'FOREIGN DATA WRAPPER', 'FOREIGN SERVER', 'DATABASE', 'TABLESPACE', 'PARAMETER', 'DEFAULT']);
/** What ALTER DEFAULT PRIVILEGES ... ON <objects> takes, by pg_default_acl.defaclobjtype. */
const DEFAULT_OBJECTS = new Set(['TABLES', 'SEQUENCES', 'FUNCTIONS', 'TYPES', 'SCHEMAS']);

export interface DirectPrivilege {
  /** TABLE, SCHEMA, ... or DEFAULT for default privileges another role set up for this one. */
  kind: string;
  /** The object, quoted by the server; for DEFAULT the `FOR ROLE x [IN SCHEMA y]` clause. */
  target: string;
  /** DEFAULT only: TABLES, SEQUENCES, FUNCTIONS, TYPES or SCHEMAS. */
  objects: string | null;
}

function listSql(includeShared: boolean, version: number): string {
  const shared = includeShared ? `
      UNION ALL SELECT 'DATABASE', format('%I', d.datname), NULL FROM pg_database d WHERE s.classid = 'pg_database'::regclass AND d.oid = s.objid
      UNION ALL SELECT 'TABLESPACE', format('%I', t.spcname), NULL FROM pg_tablespace t WHERE s.classid = 'pg_tablespace'::regclass AND t.oid = s.objid
      ${version >= 150000 ? `UNION ALL SELECT 'PARAMETER', (SELECT string_agg(format('%I', part), '.') FROM unnest(string_to_array(p.parname, '.')) AS part), NULL
          FROM pg_parameter_acl p WHERE s.classid = 'pg_parameter_acl'::regclass AND p.oid = s.objid` : ''}` : '';
  return `
    SELECT DISTINCT o.kind, o.target, o.objects
      FROM pg_shdepend s
      CROSS JOIN LATERAL (
        SELECT CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind, format('%I.%I', n.nspname, c.relname) AS target, NULL::text AS objects
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE s.classid = 'pg_class'::regclass AND c.oid = s.objid
        UNION ALL SELECT 'SCHEMA', format('%I', n.nspname), NULL FROM pg_namespace n WHERE s.classid = 'pg_namespace'::regclass AND n.oid = s.objid
        UNION ALL SELECT 'ROUTINE', format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), NULL
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE s.classid = 'pg_proc'::regclass AND p.oid = s.objid
        UNION ALL SELECT CASE WHEN t.typtype = 'd' THEN 'DOMAIN' ELSE 'TYPE' END, format('%I.%I', n.nspname, t.typname), NULL
          FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE s.classid = 'pg_type'::regclass AND t.oid = s.objid
        UNION ALL SELECT 'LANGUAGE', format('%I', l.lanname), NULL FROM pg_language l WHERE s.classid = 'pg_language'::regclass AND l.oid = s.objid
        UNION ALL SELECT 'LARGE OBJECT', m.oid::text, NULL FROM pg_largeobject_metadata m WHERE s.classid = 'pg_largeobject'::regclass AND m.oid = s.objid
        UNION ALL SELECT 'FOREIGN DATA WRAPPER', format('%I', w.fdwname), NULL FROM pg_foreign_data_wrapper w WHERE s.classid = 'pg_foreign_data_wrapper'::regclass AND w.oid = s.objid
        UNION ALL SELECT 'FOREIGN SERVER', format('%I', f.srvname), NULL FROM pg_foreign_server f WHERE s.classid = 'pg_foreign_server'::regclass AND f.oid = s.objid
        UNION ALL SELECT 'DEFAULT', format('FOR ROLE %I', r.rolname) || COALESCE(format(' IN SCHEMA %I', n.nspname), ''),
               CASE a.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' WHEN 'n' THEN 'SCHEMAS' END
          FROM pg_default_acl a JOIN pg_roles r ON r.oid = a.defaclrole LEFT JOIN pg_namespace n ON n.oid = a.defaclnamespace
         WHERE s.classid = 'pg_default_acl'::regclass AND a.oid = s.objid${shared}
      ) AS o
     WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = $1::oid AND s.deptype = 'a'
       AND (s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())${includeShared ? ' OR s.dbid = 0' : ''})
     ORDER BY 1, 2`;
}

/** Direct privileges of role `oid` in the client's database (and, with includeShared, on databases, tablespaces and parameters). */
export async function listDirectPrivileges(client: pg.ClientBase, oid: string, options: { includeShared: boolean; version: number }): Promise<DirectPrivilege[]> {
  const { rows } = await client.query<DirectPrivilege>(listSql(options.includeShared, options.version), [oid]);
  return rows;
}

/**
 * Revokes each privilege. CASCADE also takes back what the role passed on with a grant
 * option it held (those grants rest on access that has ended). A REVOKE the connector has
 * no right to make (the privilege was granted by a role it is not) is a warning, not an
 * error, in PostgreSQL; `remainingDirectPrivileges` afterwards is what tells.
 */
export async function revokeDirectPrivileges(client: pg.ClientBase, role: string, privileges: readonly DirectPrivilege[]): Promise<void> {
  const grantee = escapeIdentifier(role);
  for (const { kind, target, objects } of privileges) {
    if (!KINDS.has(kind)) throw new Error(`unexpected object kind ${JSON.stringify(kind)} among the direct privileges of ${role}`);
    if (kind === 'DEFAULT') {
      if (objects === null || !DEFAULT_OBJECTS.has(objects)) throw new Error(`unexpected default privilege object type ${JSON.stringify(objects)} for ${role}`);
      await client.query(`ALTER DEFAULT PRIVILEGES ${target} REVOKE ALL PRIVILEGES ON ${objects} FROM ${grantee} CASCADE`);
    } else {
      await client.query(`REVOKE ALL PRIVILEGES ON ${kind} ${target} FROM ${grantee} CASCADE`);
    }
  }
}

/** Databases (by name) where role `oid` still holds privileges on objects it does not own; '' stands for shared objects. */
export async function databasesWithDirectPrivileges(client: pg.ClientBase, oid: string): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT DISTINCT COALESCE(d.datname::text, '') AS name FROM pg_shdepend s LEFT JOIN pg_database d ON d.oid = s.dbid
      WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = $1::oid AND s.deptype = 'a' ORDER BY 1`, [oid]);
  return rows.map((row) => row.name);
}

/** What is left, for the error message: `<catalog> in <database>` per kind of object. */
export async function remainingDirectPrivileges(client: pg.ClientBase, oid: string): Promise<string[]> {
  const { rows } = await client.query<{ what: string }>(
    `SELECT DISTINCT s.classid::regclass::text || ' in ' || COALESCE('database ' || d.datname::text, 'the cluster') AS what
       FROM pg_shdepend s LEFT JOIN pg_database d ON d.oid = s.dbid
      WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = $1::oid AND s.deptype = 'a' ORDER BY 1`, [oid]);
  return rows.map((row) => row.what);
}
