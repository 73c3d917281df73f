// Live mailbox inspection through the NATS micro protocol, read with the `nats` npm client
// exactly as the `nats` CLI reads it: `nats micro ls|info|stats` are requests to $SRV.PING,
// $SRV.INFO.<name> and $SRV.STATS.<name>; `nats req rt.<cluster>.inspect.<actor> '{"peek":3}'`
// is a plain request. Same subjects, same JSON.
import { connect, type Msg, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActorSystem } from '../../runtime/actor-system.ts';
import { inspectNode, parseInspectRequest, PEEK_MAX, startInspectionService } from '../../runtime/inspection.ts';
import { connectNats } from '../../runtime/nats-connection.ts';
import { type SimulatedHosts, simulateHosts } from '../support/simulated-hosts.ts';

type Work = { type: 'work'; n: number; note: string; tags: Set<string> };

let hosts: SimulatedHosts;
let cli: NatsConnection;
let nodeConn: NatsConnection;
let system: ActorSystem;
let release!: () => void;
let stopService: () => Promise<unknown>;
const CAPACITY = 16;

beforeAll(async () => {
  hosts = await simulateHosts(['h1'], { prefer: 'loopback' });
  system = new ActorSystem({ node: 'execution' });
  const gate = new Promise<void>((r) => (release = r));
  // Blocked on purpose: its first message suspends it until the test releases it.
  system.spawn(
    'blocker',
    {
      init: () => ({ handled: [] as number[] }),
      receive: (s, m: Work, ctx) => {
        if (m.n === 0) ctx.suspendUntil(gate, (st) => st);
        return { handled: [...s.handled, m.n] };
      },
      summary: (s) => ({ handled: s.handled.length, last: s.handled.at(-1) ?? null }),
    },
    { mailbox: { capacity: CAPACITY, policy: 'reject' } },
  );
  system.activate = (address) => {
    if (!address.startsWith('order/')) return false;
    system.spawn(address, { init: () => ({ qty: 1 }), receive: (s) => s, summary: (s) => s });
    return true;
  };
  nodeConn = await connectNats([hosts.hosts[0].natsUrl], 'test node');
  const service = await startInspectionService(nodeConn, system, { cluster: 'it', keys: ['blocker', 'order/*'], version: '0.1.0', metadata: { host: 'h1' }, transports: () => ({ ipc: { gaps: 0 } }) });
  stopService = () => service.stop();
  cli = await connect({ servers: hosts.hosts[0].natsUrl });
}, 30_000);

afterAll(async () => {
  release?.();
  await stopService?.();
  await cli?.close();
  await nodeConn?.close();
  await system?.shutdown();
  await hosts?.close();
});

const json = (m: Msg): Record<string, unknown> => JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown>;

describe('inspection over the NATS micro protocol', () => {
  it('reads the depth, capacity, oldest age and the next queued messages of a blocked actor with a full mailbox', async () => {
    system.tell('blocker', { type: 'work', n: 0, note: 'blocks', tags: new Set() });
    await new Promise((r) => setTimeout(r, 20));
    const results = [];
    for (let i = 1; i <= CAPACITY + 4; i++) results.push(system.tell('blocker', { type: 'work', n: i, note: `job ${i}`, tags: new Set(['a']) }));
    expect(results.filter((r) => r === 'queued').length).toBe(CAPACITY);
    await new Promise((r) => setTimeout(r, 30));

    const r = json(await cli.request('rt.it.inspect.blocker', new TextEncoder().encode('{"peek":3}'), { timeout: 2000 }));
    expect(r.address).toBe('blocker');
    expect(r.node).toBe('execution');
    const box = r.mailbox as { depth: number; capacity: number; policy: string; oldest_age_ms: number; peek: { type: string; age_ms: number; body: Work & { tags: unknown } }[] };
    expect(box.depth).toBe(CAPACITY);
    expect(box.capacity).toBe(CAPACITY);
    expect(box.policy).toBe('reject');
    expect(box.oldest_age_ms).toBeGreaterThanOrEqual(25);
    expect(box.peek.map((p) => p.body.n)).toEqual([1, 2, 3]);
    expect(box.peek[0]).toMatchObject({ type: 'work', body: { type: 'work', n: 1, note: 'job 1', tags: { $set: ['a'] } } });
    expect(r.handled).toBe(1); // the message it is blocked in
    expect(r.restarts).toBe(0);

    // An empty request (what `nats req subject ''` sends) peeks the default number.
    const d = json(await cli.request('rt.it.inspect.blocker', new Uint8Array(0), { timeout: 2000 }));
    expect((d.mailbox as { peek: unknown[] }).peek.length).toBe(10);

    release();
    await new Promise((r) => setTimeout(r, 30));
    const after = json(await cli.request('rt.it.inspect.blocker', new Uint8Array(0), { timeout: 2000 }));
    expect((after.mailbox as { depth: number }).depth).toBe(0);
    expect(after.handled).toBe(CAPACITY + 1);
    expect(after.state).toEqual({ handled: CAPACITY + 1, last: CAPACITY });
  });

  it('answers for entities of a pattern by their address, and says 404 with what the node holds when none is there', async () => {
    system.tell('order/C.1', { type: 'work', n: 1, note: '', tags: new Set() });
    await new Promise((r) => setTimeout(r, 10));
    const ok = json(await cli.request('rt.it.inspect.order.C%2E1', new Uint8Array(0), { timeout: 2000 }));
    expect(ok).toMatchObject({ address: 'order/C.1', state: { qty: 1 } });
    const missing = await cli.request('rt.it.inspect.order.nope', new Uint8Array(0), { timeout: 2000 });
    expect(missing.headers?.get('Nats-Service-Error-Code')).toBe('404');
    expect(missing.headers?.get('Nats-Service-Error')).toContain('no actor at "order/nope" on node execution');
  });

  it('refuses a bad request with a 400 that says what was expected', async () => {
    for (const body of ['peek=3', '{"peek":-1}', `{"peek":${PEEK_MAX + 1}}`, '{"peak":3}', '[1]']) {
      const m = await cli.request('rt.it.inspect.blocker', new TextEncoder().encode(body), { timeout: 2000 });
      expect(m.headers?.get('Nats-Service-Error-Code'), body).toBe('400');
      expect(m.headers?.get('Nats-Service-Error'), body).toMatch(/expected/);
      expect(m.data.length).toBe(0);
    }
    expect(() => parseInspectRequest(new TextEncoder().encode('{"peek":2.5}'))).toThrow(/integer in 0\.\.1000/);
  });

  it('is listed by `nats micro ls`, described by `nats micro info` and counted by `nats micro stats`', async () => {
    // nats micro ls: a request to $SRV.PING, every service instance answers.
    const pings: Record<string, unknown>[] = [];
    const inbox = cli.subscribe('_INBOX.ping-test', { callback: (_e, m) => pings.push(json(m)) });
    cli.publish('$SRV.PING', new Uint8Array(0), { reply: '_INBOX.ping-test' });
    await new Promise((r) => setTimeout(r, 200));
    inbox.unsubscribe();
    expect(pings).toEqual([expect.objectContaining({ type: 'io.nats.micro.v1.ping_response', name: 'rt-it-execution', version: '0.1.0' })]);

    const info = json(await cli.request('$SRV.INFO.rt-it-execution', new Uint8Array(0), { timeout: 2000 }));
    expect(info.type).toBe('io.nats.micro.v1.info_response');
    expect(info.metadata).toMatchObject({ cluster: 'it', node: 'execution', host: 'h1' });
    const endpoints = info.endpoints as { name: string; subject: string; metadata: Record<string, string> }[];
    expect(endpoints.map((e) => [e.name, e.subject])).toEqual([
      ['blocker', 'rt.it.inspect.blocker'],
      ['order', 'rt.it.inspect.order.>'],
      ['node', 'rt.it.node.execution'],
    ]);

    const stats = json(await cli.request('$SRV.STATS.rt-it-execution', new Uint8Array(0), { timeout: 2000 }));
    expect(stats.type).toBe('io.nats.micro.v1.stats_response');
    const blocker = (stats.endpoints as { name: string; num_requests: number; num_errors: number }[]).find((e) => e.name === 'blocker');
    expect(blocker?.num_requests).toBeGreaterThanOrEqual(8);
    expect(blocker?.num_errors).toBeGreaterThanOrEqual(5);
  });

  it('answers the node endpoint with every actor and the transports', async () => {
    const n = json(await cli.request('rt.it.node.execution', new Uint8Array(0), { timeout: 2000 }));
    expect(n).toMatchObject({ node: 'execution', cluster: 'it', transports: { ipc: { gaps: 0 } } });
    expect((n.actors as { address: string }[]).map((a) => a.address)).toEqual(expect.arrayContaining(['blocker', 'order/C.1']));
    expect(inspectNode(system, 'it', () => ({})).actors.length).toBe((n.actors as unknown[]).length);
  });
});
