import { createServer } from 'node:net';

/** A TCP port free on loopback right now (the OS picks it); for tests and benches that start servers. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}
