// Issue 18 item 2: a node's id is its own while it runs. A node gives up its previous incarnations' leases at start
// (a crash restart resumes at once, not after the lease), which is safe only if no other live process uses that id;
// a session advisory lock on the id, held on a connection reserved for it, proves that. Postgres drops the lock
// when the session ends, so a node that dies frees its id with its connection.
import type { SQL } from "bun";
import { ConfigError } from "../../config-error";
import type { NodeHold } from "../port";

/** The advisory lock's first key ("ocnd" in ASCII, an int4); the second is the hash of the node id. */
const NODE_LOCK_CLASS = 0x6f636e64;

export async function holdNodeId(sql: SQL, nodeId: string): Promise<NodeHold> {
  const conn = await sql.reserve();
  try {
    const [{ ok }] = await conn`SELECT pg_try_advisory_lock(${NODE_LOCK_CLASS}::int, hashtext(${nodeId})) AS ok`;
    if (!ok)
      throw new ConfigError(
        `nodeId ${JSON.stringify(nodeId)} is held by another running gateway on this database: ` +
          "give every node its own (config nodeId or OC_NODE_ID)",
      );
  } catch (e) {
    conn.release();
    throw e;
  }
  return {
    wholeDatabase: false,
    async release() {
      try {
        await conn`SELECT pg_advisory_unlock(${NODE_LOCK_CLASS}::int, hashtext(${nodeId}))`;
      } finally {
        conn.release();
      }
    },
  };
}
