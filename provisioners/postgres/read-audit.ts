import type pg from 'pg';

// What "read" means is the privilege list of a group role, kept by the database's owners
// (see the header of postgres.ts). An integration with `maxLevel: read` promises more than
// Latch's config can say on its own: that nobody it grants to can change anything. This
// reads the catalogs to hold the group roles to that promise: every role a read permission
// names, and every role those are members of (a member may use them through inheritance or
// SET ROLE, whatever the INHERIT flags say), must hold nothing beyond reading.
//
// Checked: role attributes (SUPERUSER, CREATEDB, CREATEROLE, REPLICATION, BYPASSRLS);
// membership in a predefined role other than the reading ones; and in each of the
// resource's databases, privileges granted to the role itself on tables, views, columns and
// sequences that write, CREATE on schemas and on the database, default privileges that
// would write on objects created later, and ownership of anything (an owner may do all).
// Not checked: what PUBLIC holds (everyone has it, with or without Latch), EXECUTE on
// functions (a SECURITY DEFINER function may write; its owner decides) and TEMPORARY.

/** Predefined roles that only read; membership in any other pg_* role is more than reading. */
const READING_ROLES = new Set(['pg_read_all_data', 'pg_read_all_settings', 'pg_read_all_stats', 'pg_stat_scan_tables', 'pg_monitor']);
const ATTRIBUTES = [['superuser', 'SUPERUSER'], ['createdb', 'CREATEDB'], ['createrole', 'CREATEROLE'], ['replication', 'REPLICATION'], ['bypassrls', 'BYPASSRLS']] as const;

export interface ReadFinding {
  /** The role that holds it: a group role the permission names, or one it inherits. */
  role: string;
  /** What it holds, e.g. `INSERT on table public.items`. */
  what: string;
  /** Where; null for what is cluster-wide (attributes, memberships). */
  database: string | null;
}

export interface RoleClosure {
  /** Group role → itself and every role it is a member of, directly or not. */
  reaches: Map<string, Set<string>>;
  /** Findings that hold in every database. */
  findings: ReadFinding[];
}

/** The group roles with every role they are members of, and what those hold cluster-wide. */
export async function readClosure(client: pg.ClientBase, roots: readonly string[]): Promise<RoleClosure> {
  const { rows } = await client.query<{ root: string; name: string; superuser: boolean; createdb: boolean; createrole: boolean; replication: boolean; bypassrls: boolean }>(`
    WITH RECURSIVE up(root, oid) AS (
      SELECT rolname::text, oid FROM pg_roles WHERE rolname = ANY($1::name[])
      UNION
      SELECT up.root, m.roleid FROM pg_auth_members m JOIN up ON m.member = up.oid
    )
    SELECT up.root, r.rolname::text AS name, r.rolsuper AS superuser, r.rolcreatedb AS createdb, r.rolcreaterole AS createrole,
           r.rolreplication AS replication, r.rolbypassrls AS bypassrls
      FROM up JOIN pg_roles r ON r.oid = up.oid
     ORDER BY 1, 2`, [[...roots]]);
  const reaches = new Map<string, Set<string>>();
  const findings = new Map<string, ReadFinding>();
  for (const row of rows) {
    reaches.set(row.root, new Set([...(reaches.get(row.root) ?? []), row.name]));
    for (const [column, word] of ATTRIBUTES) if (row[column]) findings.set(`${row.name} ${word}`, { role: row.name, what: word, database: null });
    if (row.name.startsWith('pg_') && !READING_ROLES.has(row.name)) findings.set(row.name, { role: row.name, what: `the privileges of ${row.name}`, database: null });
  }
  return { reaches, findings: [...findings.values()] };
}

const WRITES = "('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'MAINTAIN')";

/** What `roles` hold beyond reading in the client's database. */
export async function readFindingsIn(client: pg.ClientBase, roles: readonly string[]): Promise<ReadFinding[]> {
  const { rows } = await client.query<{ role: string; what: string; database: string }>(`
    WITH r AS (SELECT oid, rolname::text AS name FROM pg_roles WHERE rolname = ANY($1::name[]))
    SELECT role, what, current_database()::text AS database FROM (
      SELECT r.name AS role, format('%s on %s %s', a.privilege_type, CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' ELSE 'table' END, c.oid::regclass) AS what
        FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a JOIN r ON r.oid = a.grantee
       WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.privilege_type IN ${WRITES}
      UNION ALL
      SELECT r.name, format('%s on sequence %s', a.privilege_type, c.oid::regclass)
        FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a JOIN r ON r.oid = a.grantee
       WHERE c.relkind = 'S' AND a.privilege_type = 'UPDATE'
      UNION ALL
      SELECT r.name, format('%s on column %s.%I', a.privilege_type, c.oid::regclass, att.attname)
        FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid CROSS JOIN LATERAL aclexplode(att.attacl) a JOIN r ON r.oid = a.grantee
       WHERE att.attacl IS NOT NULL AND NOT att.attisdropped AND a.privilege_type IN ('INSERT', 'UPDATE', 'REFERENCES')
      UNION ALL
      SELECT r.name, format('CREATE on schema %I', n.nspname)
        FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a JOIN r ON r.oid = a.grantee WHERE a.privilege_type = 'CREATE'
      UNION ALL
      SELECT r.name, format('CREATE on database %I', d.datname)
        FROM pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) a JOIN r ON r.oid = a.grantee
       WHERE d.datname = current_database() AND a.privilege_type = 'CREATE'
      UNION ALL
      SELECT r.name, format('default privilege %s on objects %s creates%s', a.privilege_type, pg_get_userbyid(da.defaclrole), COALESCE(format(' in schema %I', n.nspname), ''))
        FROM pg_default_acl da LEFT JOIN pg_namespace n ON n.oid = da.defaclnamespace CROSS JOIN LATERAL aclexplode(da.defaclacl) a JOIN r ON r.oid = a.grantee
       WHERE a.privilege_type IN ${WRITES} OR (a.privilege_type = 'CREATE' AND da.defaclobjtype = 'n')
      UNION ALL
      SELECT r.name, format('ownership of database %I', d.datname) FROM pg_database d JOIN r ON r.oid = d.datdba WHERE d.datname = current_database()
      UNION ALL
      SELECT r.name, 'ownership of ' || pg_describe_object(s.classid, s.objid, s.objsubid)
        FROM pg_shdepend s JOIN r ON r.oid = s.refobjid
       WHERE s.refclassid = 'pg_authid'::regclass AND s.deptype = 'o' AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    ) AS found
    ORDER BY 1, 2`, [[...roles]]);
  return rows;
}

/** One sentence per finding, naming the group role it reaches through. */
export function describeFindings(group: string, reaches: ReadonlySet<string>, findings: readonly ReadFinding[]): string[] {
  return findings.filter((finding) => reaches.has(finding.role)).map((finding) => {
    const who = finding.role === group ? `group role ${group}` : `group role ${group} (through ${finding.role})`;
    return `${who} holds ${finding.what}${finding.database ? ` in database ${finding.database}` : ''}`;
  });
}
