// Issue 18 item 2: a node's id is its own while it runs. A node gives up its previous incarnations' leases at start
// (a crash restart resumes at once, not after the lease), which is safe only if no other live process uses that id;
// a session advisory lock on the id, held on a connection reserved for it, proves that. Postgres drops the lock
// when the session ends, so a node that dies frees its id with its connection.
import type { SQL } from "bun";
import { ConfigError } from "../../config-error";
import type { NodeHold } from "../port";

/** The advisory lock's first key ("ocnd" in ASCII, an int4); the second is the hash of the node id. */
const NODE_LOCK_CLASS = 0x6f636e64;

/** Takes the id's lock on a connection reserved for it; null when another session holds it. */
async function take(sql: SQL, nodeId: string) {
  const conn = await sql.reserve();
  try {
    const [{ ok }] = await conn`SELECT pg_try_advisory_lock(${NODE_LOCK_CLASS}::int, hashtext(${nodeId})) AS ok`;
    if (ok) return conn;
  } catch (e) {
    conn.release();
    throw e;
  }
  conn.release();
  return null;
}

export async function holdNodeId(sql: SQL, nodeId: string): Promise<NodeHold> {
  let conn = await take(sql, nodeId);
  if (!conn)
    throw new ConfigError(
      `nodeId ${JSON.stringify(nodeId)} is held by another running gateway on this database: ` +
        "give every node its own (config nodeId or OC_NODE_ID)",
    );
  return {
    wholeDatabase: false,
    async stillHeld() {
      if (conn) {
        try {
          // Nothing unlocks a session lock but its session: while the connection answers, the lock is ours.
          await conn`SELECT 1`;
          return true;
        } catch {
          conn.release();
          conn = null;
        }
      }
      // The session ended and the lock with it: ours again only if no other node took the id meanwhile (an
      // unreachable database throws: nobody can tell yet, the caller asks again later).
      conn = await take(sql, nodeId);
      return conn !== null;
    },
    async release() {
      if (!conn) return;
      try {
        await conn`SELECT pg_advisory_unlock(${NODE_LOCK_CLASS}::int, hashtext(${nodeId}))`;
      } finally {
        conn.release();
        conn = null;
      }
    },
  };
}
