import pg from "pg";
import type { NotificationHandlers } from "./database.js";

// A connection that stops answering is as bad as one that is gone: missed
// notifications would leave stale copies behind. So the listening
// connection is probed, and replaced when it fails.
const HEARTBEAT_MS = 5_000;
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;

/**
 * LISTEN on a connection of its own: a pooled connection is lent to other
 * queries, and would stop listening when returned. A connection that errors,
 * ends or misses a heartbeat is reported lost and replaced after a growing
 * delay.
 */
export async function listenOnPostgres(
  connectionString: string,
  channel: string,
  handlers: NotificationHandlers,
): Promise<() => Promise<void>> {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a plain channel name: ${channel}`);
  let closed = false;
  let current: pg.Client | undefined;
  let retryMs = RETRY_FIRST_MS;
  let retry: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    const client = new pg.Client({ connectionString, keepAlive: true, query_timeout: HEARTBEAT_MS });
    current = client;
    let heartbeat: NodeJS.Timeout | undefined;
    let failed = false;
    const fail = () => {
      if (failed) return;
      failed = true;
      clearInterval(heartbeat);
      client.removeAllListeners("notification");
      client.end().catch(() => {});
      if (closed) return;
      handlers.lost();
      retry = setTimeout(() => void connect(), retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    };
    client.on("error", fail);
    client.on("end", fail);
    client.on("notification", (message) => {
      if (message.channel === channel) handlers.notify(message.payload ?? "");
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch {
      return fail();
    }
    if (failed || closed) return;
    retryMs = RETRY_FIRST_MS;
    handlers.ready();
    heartbeat = setInterval(() => client.query("SELECT 1").catch(fail), HEARTBEAT_MS).unref();
  };

  await connect();
  return async () => {
    closed = true;
    clearTimeout(retry);
    await current?.end().catch(() => {});
  };
}
