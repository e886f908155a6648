import fs from 'node:fs';
import path from 'node:path';
import { packArchive } from '../../standalone/pack-archive';
import { EXAMPLE_DIR, exampleItem, type TestSystem } from './system-fixture';

/**
 * A one-rank problem whose algo `slow` trains for two minutes: for tests that need a task still
 * running in the sandbox (shutdown, cancellation). Uploads the example workflow, the slow algo and
 * the two data items, registers the problem and its data, posts the algo.
 */
export async function postSlowChain(sys: TestSystem, problem: string, trainItem: string, testItem: string): Promise<void> {
  const { o, work } = sys;
  const as = sys.storageAs;
  fs.mkdirSync(path.join(work, 'slow'), { recursive: true });
  fs.writeFileSync(path.join(work, 'slow', 'run'), '#!/usr/bin/env python3\nimport time\ntime.sleep(120)\n', { mode: 0o755 });
  await packArchive(path.join(work, 'slow'), path.join(work, 'slow.tar.gz'));
  await packArchive(path.join(EXAMPLE_DIR, 'workflow'), path.join(work, 'wf.tar.gz'));
  await as('organizer').uploadFile('workflow', 'wf', path.join(work, 'wf.tar.gz'));
  await as('author').uploadFile('algo', 'slow', path.join(work, 'slow.tar.gz'));
  for (const uuid of [trainItem, testItem]) await as('provider').uploadFile('data', uuid, exampleItem(uuid));
  await o.call('organizer', 'POST', '/problem', { uuid: problem, workflow: 'wf', test_dataset: [testItem], size_train_dataset: 1 });
  await o.call('provider', 'POST', '/data', { uuid: [trainItem, testItem], problems: problem });
  await o.call('author', 'POST', '/algo', { uuid: 'slow', name: 'slow', problem });
}
