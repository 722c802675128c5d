// Several gateway nodes behind one identity on one PostgreSQL database (issue 18, "Tests and figures"): each node
// is its own `bun src/main.ts serve` process (tests/helpers/gateway-process.ts) with its own data dir and port,
// all with the same OCID, the same signing key and the same databaseUrl, and each with its own node id. The peers
// are real signing servers that keep their own books (../reliability/crash-peers.ts). The books are read straight
// from the database with SQL (the test's view, not the gateway's).
import { balanceRows } from "../../src/domain/ledger-accounts";
import { generatePrivateKeyHex, parsePrivateKey, publicKeyHex } from "../../src/protocol/keys";
import { ProcessGateway } from "../helpers/gateway-process";
import { freshDatabase, type TestDatabase } from "../helpers/postgres";
import { startCrashPeers } from "../reliability/crash-peers";

export const CLUSTER_OCID = 200;

export type ClusterOptions = {
  nodes: number;
  /** names the fresh database */
  label: string;
  /** the peers' answer delay for each request (ms) */
  peerDelay: () => number;
  /** Bun runtime arguments for every node (the control's --preload) */
  runtimeArgs?: string[];
  users: number;
};

export type ClusterUser = { name: string; id: string; token: string };

export type Cluster = Awaited<ReturnType<typeof startCluster>>;

export async function startCluster(o: ClusterOptions) {
  const db = await freshDatabase(o.label);
  const privateKey = generatePrivateKeyHex();
  const publicKey = publicKeyHex(parsePrivateKey(privateKey)!);
  const peers = await startCrashPeers(CLUSTER_OCID, publicKey, o.peerDelay);
  const config = {
    databaseUrl: db.url,
    privateKey,
    partners: [{ ocid: 101, reserveCurrencies: ["USD"] }],
    providers: [{ ocid: 300, currencies: ["USD"] }],
    directory: {
      "500": peers.merchant.endpoint,
      "101": peers.partner.endpoint,
      "102": peers.mg.endpoint,
      "300": peers.provider.endpoint,
    },
    maxPendingSessions: 10_000,
    // Short leases: a killed node's work is taken over within seconds, inside the test's budget. Long timeouts: a
    // peer call is repeated only after a crash, never because a loaded machine made an answer late.
    scheduler: { leaseSeconds: 3, jobLeaseSeconds: 3 },
    outboundTimeouts: { settlementMs: 20_000, webhookMs: 20_000 },
    logLevel: "debug",
  };
  const nodes = Array.from(
    { length: o.nodes },
    (_, i) =>
      new ProcessGateway({
        ocid: CLUSTER_OCID,
        name: "Cluster Gateway",
        config,
        env: { OC_NODE_ID: `node${i}` },
        runtimeArgs: o.runtimeArgs,
      }),
  );
  const cliErrors: string[] = [];
  const init = await nodes[0]!.cli("init");
  cliErrors.push(init.err);
  if (init.code !== 0) throw new Error(`init on PostgreSQL failed (${init.code}): ${init.err}${init.out}`);
  // Made through the CLI of different nodes at once: they all write the one database.
  await auditLeaseTakeovers(db);
  const users: ClusterUser[] = await Promise.all(
    Array.from({ length: o.users }, (_, i) => nodes[i % o.nodes]!.addUser(`node_user${i}`, "USD:100000.00")),
  );
  await Promise.all(nodes.map((n) => n.start()));

  const sql = db.sql;
  return {
    db,
    sql,
    nodes,
    peers,
    users,
    privateKey,
    publicKey,
    cliErrors,
    /** Which node a lease owner is (owners are `<nodeId>:<incarnation>:…`), else null. */
    nodeOfOwner(owner: string): number | null {
      const i = nodes.findIndex((_, i) => owner.startsWith(`node${i}:`));
      return i >= 0 ? i : null;
    },
    /** Pending jobs and deliveries by lease owner, at this instant. */
    async leasesByOwner(): Promise<Map<string, number>> {
      const rows = await sql`SELECT lease_owner AS owner, COUNT(*)::int AS n FROM (
          SELECT lease_owner FROM jobs WHERE state = 'pending' AND lease_owner IS NOT NULL
          UNION ALL SELECT lease_owner FROM deliveries WHERE state = 'pending' AND lease_owner IS NOT NULL) l
        GROUP BY lease_owner`;
      return new Map(rows.map((r: { owner: string; n: number }) => [r.owner, r.n]));
    },
    /** What these lease owners hold: pending deliveries' txids and jobs' ids (what a node may have sent as it died). */
    async heldBy(owners: string[]): Promise<{ txids: Set<string>; jobs: Set<string> }> {
      const d = await sql`SELECT txid FROM deliveries WHERE state = 'pending' AND lease_owner = ANY(${owners}::text[])`;
      const j = await sql`SELECT id FROM jobs WHERE state = 'pending' AND lease_owner = ANY(${owners}::text[])`;
      return {
        txids: new Set(d.map((r: { txid: string }) => r.txid)),
        jobs: new Set(j.map((r: { id: string }) => r.id)),
      };
    },
    /** Rows taken from another owner whose lease was still valid (the audit below): must stay 0. */
    async leaseTakeovers(): Promise<{ tbl: string; row_id: string; old_owner: string; new_owner: string }[]> {
      return await sql`SELECT tbl, row_id, old_owner, new_owner FROM lease_takeovers ORDER BY n`;
    },
    async settlementWorkLeft(): Promise<number> {
      const [r] = await sql`SELECT (SELECT COUNT(*) FROM jobs WHERE state = 'pending')
          + (SELECT COUNT(*) FROM deliveries WHERE state = 'pending')
          + (SELECT COUNT(*) FROM orders WHERE status = 'confirmed') AS n`;
      return Number(r.n);
    },
    /** An account's balance: the sum of the rows the books keep it in (the in-flight account is sharded). */
    async balance(account: string, currency = "USD"): Promise<bigint> {
      const [r] = await sql`SELECT COALESCE(SUM(balance), 0)::bigint AS b FROM accounts
        WHERE account = ANY(${[...balanceRows(account)]}::text[]) AND currency = ${currency}`;
      return BigInt(r.b);
    },
    async stop(): Promise<void> {
      await Promise.all(nodes.map((n) => n.close()));
      await peers.stop();
      await db.drop();
    },
  };
}

/**
 * The claim guard's invariant, watched in the database itself: a row of a leased table that changes hands while
 * its holder's lease is still valid (the database clock, as the claims use) is logged. A claim takes only expired
 * or free rows, a renewal or a fenced write keeps the owner, a release clears it, so the log stays empty unless
 * two nodes claimed the same row at once. Installed by the test after `init`: not part of the gateway's schema.
 */
async function auditLeaseTakeovers(db: TestDatabase): Promise<void> {
  await db.sql
    .unsafe(
      `
    CREATE TABLE lease_takeovers (n BIGINT GENERATED ALWAYS AS IDENTITY, tbl TEXT NOT NULL, row_id TEXT NOT NULL,
      old_owner TEXT NOT NULL, new_owner TEXT NOT NULL, old_until BIGINT NOT NULL, at BIGINT NOT NULL);
    CREATE FUNCTION audit_lease_takeover() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE now_s BIGINT := floor(extract(epoch FROM clock_timestamp()));
    BEGIN
      IF OLD.lease_owner IS NOT NULL AND NEW.lease_owner IS NOT NULL AND NEW.lease_owner <> OLD.lease_owner
         AND OLD.lease_until >= now_s THEN
        INSERT INTO lease_takeovers (tbl, row_id, old_owner, new_owner, old_until, at)
        VALUES (TG_TABLE_NAME, OLD.id, OLD.lease_owner, NEW.lease_owner, OLD.lease_until, now_s);
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER jobs_lease_audit BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION audit_lease_takeover();
    CREATE TRIGGER deliveries_lease_audit BEFORE UPDATE ON deliveries FOR EACH ROW
      EXECUTE FUNCTION audit_lease_takeover();
    CREATE TRIGGER p2p_lease_audit BEFORE UPDATE ON p2p_transfers FOR EACH ROW
      EXECUTE FUNCTION audit_lease_takeover();`,
    )
    .simple();
}

export type { TestDatabase };
