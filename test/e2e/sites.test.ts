import path from 'node:path';
import { packArchive } from '../../standalone/pack-archive';
import { signCapability, CAPABILITY_HEADER } from '../../shared/auth/capability-token';
import { StorageClient } from '../../shared/http/storage-client';
import { loadConfig } from '../../shared/config/load-config';
import { storageSettingsSchema } from '../../storage-gateway/config';
import { agentSettingsSchema } from '../../compute-agent/config';
import { readAccessLog } from '../../storage-gateway/access/access-log';
import { EXAMPLE_DIR as EXAMPLE, exampleItem as item, waitFor } from '../harness/system-fixture';
import { startTestOrchestrator, TEST_CAPABILITY_SECRET, TEST_KEYS, type TestOrchestrator } from '../harness/orchestrator-fixture';
import { startTestStorage, type TestStorage } from '../harness/storage-fixture';
import { startTestAgent, type TestAgent } from '../harness/agent-fixture';
import fs from 'node:fs';
import os from 'node:os';

/**
 * Three sites, each with its own gateway and agent, on real servers: a chain visits them in
 * the order their data filled minibatches, the model moving from one to the next; data never
 * leaves its site; a site without a live agent makes its rank wait, visibly, until one comes back.
 */
describe('sites: data stays at its site, the model travels', () => {
  const SITES = ['a', 'b', 'c'] as const;
  const gw: Record<string, TestStorage> = {};
  const agents: Record<string, TestAgent | undefined> = {};
  let o: TestOrchestrator;
  let work: string;
  const startAgent = async (site: string, name: string) =>
    (agents[site] = await startTestAgent(o.url, gw[site]!.url, o.prefix, { SITE: site, AGENT_NAME: name, HEARTBEAT_INTERVAL_MS: '500' }));
  const as = (site: string, role: keyof typeof TEST_KEYS) => new StorageClient({ baseUrl: gw[site]!.url, apiKey: TEST_KEYS[role].key });

  beforeAll(async () => {
    for (const s of SITES) gw[s] = await startTestStorage({ SITE: s });
    const sites = Object.fromEntries(SITES.map((s) => [s, { gateway_url: gw[s]!.url }]));
    o = await startTestOrchestrator('sites', {
      SITES: JSON.stringify(sites),
      HEARTBEAT_INTERVAL_MS: '500',
      LEASE_SECONDS: '30',
      REAPER_INTERVAL_MS: '500',
      SWEEP_INTERVAL_MS: '1000',
      REPUBLISH_AFTER_MS: '3000',
    });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-sites-'));
  });
  afterAll(async () => {
    for (const a of Object.values(agents)) await a?.cleanup();
    for (const g of Object.values(gw)) await g.cleanup();
    await o?.cleanup();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('bad input: unknown site, odd characters, a key bound to another site → 4xx naming site, nothing written', async () => {
    const unknown = await o.call('provider', 'POST', '/data', { uuid: 'x-1', problems: [], site: 'zz' });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error).toMatchObject({ code: 'UNKNOWN_SITE', details: { field: 'site' } });
    const odd = await o.call('provider', 'POST', '/data', { uuid: 'x-2', problems: [], site: 'B b!' });
    expect(odd.status).toBe(400);
    expect(JSON.stringify(odd.body.error.details)).toContain('site');
    const bound = await o.call('providerAtB', 'POST', '/data', { uuid: 'x-3', problems: [], site: 'a' });
    expect(bound.status).toBe(403);
    expect(bound.body.error).toMatchObject({ code: 'SITE_NOT_ALLOWED', details: { field: 'site' } });
    for (const u of ['x-1', 'x-2', 'x-3']) expect((await o.call('reader', 'GET', `/data/${u}`)).status).toBe(404);
    // A bound key registers at its site without naming it.
    const ok = await o.call('providerAtB', 'POST', '/data', { uuid: 'x-4', problems: [] });
    expect(ok.status).toBe(201);
    expect(ok.body.new_datas[0].site).toBe('b');
    // A gateway or an agent with an odd site name does not start.
    expect(() =>
      loadConfig(storageSettingsSchema, { STORAGE_DIR: work, UPLET_API_KEYS: '[]', UPLET_CAPABILITY_SECRET: TEST_CAPABILITY_SECRET, SITE: 'Site B' }),
    ).toThrow(/SITE/);
    expect(() => loadConfig(agentSettingsSchema, { AGENT_API_KEY: TEST_KEYS.compute.key, SITE: 'b/../a' })).toThrow(/SITE/);
    const sites = await o.call('reader', 'GET', '/sites');
    expect(sites.status).toBe(200);
    expect(sites.body.sites.map((s: { name: string }) => s.name).sort()).toEqual(['a', 'b', 'c', 'default']);
  });

  test('a chain over three sites visits them in order; B waits while it has no live agent and resumes with a new one', async () => {
    for (const s of SITES) await startAgent(s, `agent-${s}`);
    await packArchive(path.join(EXAMPLE, 'workflow'), path.join(work, 'workflow.tar.gz'));
    await packArchive(path.join(EXAMPLE, 'algo-logreg'), path.join(work, 'logreg.tar.gz'));
    // Code lives at site a; each hospital's data at its own gateway; the test set (the organizer's evaluation set) at a.
    await as('a', 'organizer').uploadFile('workflow', 'wf', path.join(work, 'workflow.tar.gz'));
    await as('a', 'author').uploadFile('algo', 'logreg', path.join(work, 'logreg.tar.gz'));
    const data: Record<string, string[]> = { a: ['bc-train-00', 'bc-train-01'], b: ['bc-train-02', 'bc-train-03'], c: ['bc-train-04', 'bc-train-05'] };
    const test = ['bc-test-0', 'bc-test-1'];
    for (const s of SITES) for (const u of data[s]!) await as(s, 'provider').uploadFile('data', u, item(u), { contentType: 'text/csv' });
    for (const u of test) await as('a', 'provider').uploadFile('data', u, item(u), { contentType: 'text/csv' });
    expect((await o.call('organizer', 'POST', '/problem', { uuid: 'sp', workflow: 'wf', test_dataset: test, size_train_dataset: 2, site: 'a' })).status).toBe(
      201,
    );
    expect((await o.call('provider', 'POST', '/data', { uuid: test, problems: 'sp', site: 'a' })).status).toBe(201);
    expect((await o.call('author', 'POST', '/algo', { uuid: 'logreg', name: 'logreg', problem: 'sp', site: 'a' })).status).toBe(201);

    // B's only agent is killed: once its liveness window passes, B has no live agent.
    await agents.b!.cleanup();
    agents.b = undefined;
    await waitFor(
      async () =>
        (await o.call('reader', 'GET', '/sites')).body.sites.find((s: { name: string }) => s.name === 'b').live_agents.length === 0 ? true : undefined,
      10_000,
    );

    for (const s of SITES) expect((await o.call('provider', 'POST', '/data', { uuid: data[s], problems: 'sp', site: s })).status).toBe(201);
    const problem = (await o.call('reader', 'GET', '/problem/sp')).body;
    expect(problem.minibatches).toBe(3);
    // Rank 0 (site a) runs; rank 1 (site b) waits and says so.
    const waiting = await waitFor(async () => {
      const p = (await o.call('reader', 'GET', '/problem/sp')).body;
      return p.waiting_for.length > 0 ? p.waiting_for : undefined;
    }, 60_000);
    expect(waiting).toEqual([expect.objectContaining({ rank: 1, site: 'b', message: 'waiting for site b: no live agent' })]);
    const r1 = (await o.call('reader', 'GET', '/learnuplet?problem=sp')).body.learnuplets.find((l: { rank: number }) => l.rank === 1);
    expect(r1).toMatchObject({ status: 'todo', site: 'b', attempt: 0 });

    // An agent of site a claiming b's work is refused, and nothing is written.
    const foreign = await o.call('compute2', 'POST', `/worker/learnuplet/${r1.uuid}`, { worker: 'intruder', site: 'a' });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe('WRONG_SITE');
    expect((await o.call('reader', 'GET', `/learnuplet/${r1.uuid}`)).body).toMatchObject({ status: 'todo', attempt: 0 });

    // An agent of site a asking b's gateway for b's data is refused, even with a valid capability of its own.
    const cap = signCapability(
      {
        sub: TEST_KEYS.compute.name,
        uplet: 'u',
        kind: 'learnuplet',
        attempt: 1,
        blobs: ['data/bc-train-02'],
        writes: [],
        site: 'a',
        exp: Math.floor(Date.now() / 1000) + 60,
      },
      TEST_CAPABILITY_SECRET,
    );
    const res = await fetch(`${gw.b!.url}/blobs/data/bc-train-02`, { headers: { 'x-api-key': TEST_KEYS.compute.key, [CAPABILITY_HEADER]: cap } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('WRONG_SITE');

    // A new agent of site b: the chain resumes and ends.
    await startAgent('b', 'agent-b2');
    const chain = await waitFor(async () => {
      const ls = (await o.call('reader', 'GET', '/learnuplet?problem=sp')).body.learnuplets as Array<Record<string, any>>;
      return ls.length === 3 && ls.every((l) => l.status === 'done' || l.status === 'failed') ? ls : undefined;
    }, 120_000);
    expect(chain.map((l) => [l.rank, l.site, l.status, l.attempt])).toEqual([
      [0, 'a', 'done', 1],
      [1, 'b', 'done', 1],
      [2, 'c', 'done', 1],
    ]);
    expect(chain[1]!.worker).toBe('agent-b2');
    expect((await o.call('reader', 'GET', '/problem/sp')).body.waiting_for).toEqual([]);

    // From the gateways' access logs: every data read was by a task of the data's own site (test data excepted),
    // and the model moved: rank 1's agent (b) read rank 0's model from a's gateway, rank 2's (c) read its start model where it was written.
    for (const s of SITES) {
      const reads = readAccessLog(gw[s]!.gateway.accessLogFile!).filter((e) => e.action === 'read' && e.kind === 'data' && e.status === 200);
      for (const e of reads) if (!test.includes(e.uuid)) expect(e.capability_site).toBe(s);
      expect(
        reads
          .filter((e) => !test.includes(e.uuid))
          .map((e) => e.uuid)
          .sort(),
      ).toEqual(data[s]!.slice().sort());
    }
    const modelReads = SITES.flatMap((s) =>
      readAccessLog(gw[s]!.gateway.accessLogFile!)
        .filter((e) => e.action === 'read' && e.kind === 'model' && e.status === 200)
        .map((e) => ({ ...e, gateway_site: s })),
    );
    const moved = modelReads.filter((e) => e.capability_site !== e.gateway_site);
    expect(moved.length).toBeGreaterThanOrEqual(1);
    expect(modelReads.find((e) => e.uuid === chain[1]!.model_start)).toMatchObject({ gateway_site: 'a', capability_site: 'b' });
    // The refused attempt is in b's log too.
    expect(readAccessLog(gw.b!.gateway.accessLogFile!).some((e) => e.kind === 'data' && e.status === 403 && e.capability_site === 'a')).toBe(true);
  }, 240_000);
});
