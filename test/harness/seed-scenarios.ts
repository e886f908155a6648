import type { TestOrchestrator } from './orchestrator-fixture';

/** A problem with one done learnuplet, so predictions can be requested: `count` todo preduplets. */
export async function todoPreduplets(t: TestOrchestrator, problem: string, count: number): Promise<string[]> {
  await t.call('organizer', 'POST', '/problem', { uuid: problem, workflow: 'wf', test_dataset: ['t1'], size_train_dataset: 1 });
  await t.call('provider', 'POST', '/data', { uuid: [`${problem}-d1`], problems: problem });
  const algo = await t.call('author', 'POST', '/algo', { uuid: `${problem}-a`, name: 'a', problem });
  if (algo.status !== 201) throw new Error(`algo post failed: ${JSON.stringify(algo.body)}`);
  const [rank0] = (await t.call('reader', 'GET', `/learnuplet?problem=${problem}`)).body.learnuplets;
  const claim = await t.call('compute', 'POST', `/worker/learnuplet/${rank0.uuid}`, { worker: 'seed' });
  await t.call('compute', 'POST', `/learndone/${rank0.uuid}`, {
    status: 'done',
    perf: 0.5,
    train_perf: {},
    test_perf: {},
    lease_token: claim.body.lease.token,
  });
  const data = Array.from({ length: count }, (_, i) => `${problem}-x${i}`);
  // Predictions name only data their requester registered (here to no problem).
  await t.call('provider', 'POST', '/data', { uuid: data, problems: [] });
  const pred = await t.call('provider', 'POST', '/prediction', { data, problem });
  if (pred.status !== 201) throw new Error(`prediction failed: ${JSON.stringify(pred.body)}`);
  return pred.body.preduplets as string[];
}

/** `count` chains of one rank each: `count` todo learnuplets. */
export async function todoLearnuplets(t: TestOrchestrator, problem: string, count: number): Promise<string[]> {
  await t.call('organizer', 'POST', '/problem', { uuid: problem, workflow: 'wf', test_dataset: ['t1'], size_train_dataset: 1 });
  await t.call('provider', 'POST', '/data', { uuid: [`${problem}-d1`], problems: problem });
  for (let i = 0; i < count; i++) await t.call('author', 'POST', '/algo', { uuid: `${problem}-a${i}`, name: `a${i}`, problem });
  return ((await t.call('reader', 'GET', `/learnuplet?problem=${problem}&limit=1000`)).body.learnuplets as Array<{ uuid: string }>).map((l) => l.uuid);
}
