// A copy of a trading topology that runs beside any other on this host: its own cluster name, IPC
// folder, venue log and embedded PostgreSQL (under `dir`) and free ports, with the feed and venue gateways pointed at its
// own market data server. For integration tests and benches that start the real product.
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { Document } from 'yaml';
import { freePort } from '../runtime/free-port.ts';

/** Rewrites `doc` in place (the actors `market`, `feed` and `venue-gw` of topology.yaml). Returns the market port. */
export async function isolateTopology(doc: Document, dir: string, cluster: string): Promise<number> {
  const port = await freePort();
  doc.set('cluster', cluster);
  doc.setIn(['transport', 'ipc_dir'], join(dir, 'ipc'));
  // Its own embedded PostgreSQL (DATABASE_URL, when set, still wins). As root the server runs as
  // the user postgres, which must be able to reach its folder (mkdtemp makes folders 0700).
  chmodSync(dir, 0o755);
  doc.setIn(['persistence', 'data_dir'], join(dir, 'pg'));
  doc.setIn(['persistence', 'port'], await freePort());
  // Its own NATS server (rt up starts it) on every host that names one.
  const hosts = doc.getIn(['hosts']) as { items: { key: { value: string } | string }[] };
  for (const item of hosts.items) {
    const host = typeof item.key === 'string' ? item.key : item.key.value;
    if (doc.hasIn(['hosts', host, 'nats'])) doc.setIn(['hosts', host, 'nats'], doc.createNode([`nats://127.0.0.1:${await freePort()}`]));
  }
  const nodes = doc.getIn(['nodes']) as { items: { key: { value: string } | string }[] };
  for (const item of nodes.items) {
    const node = typeof item.key === 'string' ? item.key : item.key.value;
    doc.setIn(['nodes', node, 'ports'], doc.createNode({ metrics: await freePort() }));
    const actors = doc.getIn(['nodes', node, 'actors']) as { toJSON(): string[] };
    if (actors.toJSON().includes('market')) doc.setIn(['nodes', node, 'ports', 'market'], port);
  }
  doc.setIn(['actors', 'market', 'options', 'port'], port);
  doc.setIn(['actors', 'market', 'options', 'venue', 'log'], join(dir, 'venue.log'));
  doc.setIn(['actors', 'feed', 'options', 'ws_url'], `ws://127.0.0.1:${port}`);
  doc.setIn(['actors', 'feed', 'options', 'rest_url'], `http://127.0.0.1:${port}`);
  doc.setIn(['actors', 'venue-gw', 'options', 'url'], `ws://127.0.0.1:${port}/ws-api/v3`);
  return port;
}
