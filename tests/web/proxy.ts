// A TCP relay in front of a gateway, so a browser test can take "the server" down and bring it back on the same
// address: while down, connections are refused (the listener is closed) and open ones are cut, as in a real outage.
import type { Socket, TCPSocketListener } from "bun";

type Pair = { upstream: Socket<Pair> | null; pending: Uint8Array[]; queue: Uint8Array[] };

/** Bun sockets may take part of a write: keep the rest and flush it on drain, in order. */
function send(to: Socket<Pair> | null | undefined, chunk: Uint8Array) {
  if (!to) return;
  if (to.data.queue.length) return void to.data.queue.push(chunk);
  const n = to.write(chunk);
  if (n < chunk.length) to.data.queue.push(chunk.subarray(Math.max(n, 0)));
}
function flush(s: Socket<Pair>) {
  while (s.data.queue.length) {
    const head = s.data.queue[0]!;
    const n = s.write(head);
    if (n < head.length) return void (s.data.queue[0] = head.subarray(Math.max(n, 0)));
    s.data.queue.shift();
  }
}

export class Relay {
  private listener: TCPSocketListener<Pair> | null = null;
  private readonly open = new Set<Socket<Pair>>();
  port = 0;

  constructor(private readonly targetPort: number) {}

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  up(): void {
    const target = this.targetPort;
    const open = this.open;
    this.listener = Bun.listen<Pair>({
      hostname: "127.0.0.1",
      port: this.port,
      socket: {
        open(client) {
          client.data = { upstream: null, pending: [], queue: [] };
          open.add(client);
          void Bun.connect<Pair>({
            hostname: "127.0.0.1",
            port: target,
            socket: {
              open(up) {
                up.data = { upstream: client, pending: [], queue: [] };
                client.data.upstream = up;
                for (const chunk of client.data.pending) send(up, chunk);
                client.data.pending = [];
              },
              data(up, chunk) {
                send(up.data.upstream, new Uint8Array(chunk));
              },
              drain: flush,
              close(up) {
                up.data.upstream?.end();
              },
              error(up) {
                up.data.upstream?.end();
              },
            },
          }).catch(() => client.end());
        },
        data(client, chunk) {
          if (client.data.upstream) send(client.data.upstream, new Uint8Array(chunk));
          else client.data.pending.push(new Uint8Array(chunk));
        },
        drain: flush,
        close(client) {
          open.delete(client);
          client.data.upstream?.end();
        },
        error(client) {
          open.delete(client);
          client.data.upstream?.end();
        },
      },
    });
    this.port = this.listener.port;
  }

  down(): void {
    this.listener?.stop(true);
    this.listener = null;
    for (const c of this.open) c.end();
    this.open.clear();
  }
}
