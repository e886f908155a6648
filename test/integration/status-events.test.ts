import { AmqpBroker } from '../../shared/messaging/amqp-broker';
import { workTopology } from '../../shared/messaging/work-topology';
import { silentLogger } from '../../shared/logging/logger';
import type { StatusEvent } from '../../shared/contracts/events-contract';
import { startTestOrchestrator, type TestOrchestrator } from '../harness/orchestrator-fixture';
import { testAmqpUrl } from '../harness/test-broker';
import { waitFor } from '../harness/system-fixture';

/** Every task status change is an event on `<prefix>.events`, heard by any subscriber whichever replica made it. */
describe('status events', () => {
  let t: TestOrchestrator;
  let listener: AmqpBroker;
  const heard: Array<{ key: string; event: StatusEvent }> = [];
  beforeAll(async () => {
    t = await startTestOrchestrator('events');
    // A subscriber of its own, as a dashboard or another replica's WebSocket server would be.
    listener = new AmqpBroker({ url: testAmqpUrl(), topology: workTopology(t.prefix), logger: silentLogger(), connectionName: 'events-test' });
    await listener.start();
    await listener.subscribe(workTopology(t.prefix).eventsExchange, 'learnuplet.*', (content, key) =>
      heard.push({ key, event: JSON.parse(content.toString()) as StatusEvent }),
    );
  });
  afterAll(async () => {
    await listener?.close();
    await t?.cleanup();
  });

  test('a rank claimed and reported: pending, done, then the next rank todo, in order', async () => {
    await t.call('organizer', 'POST', '/problem', { uuid: 'ev', workflow: 'wf', test_dataset: ['evt'], size_train_dataset: 1 });
    await t.call('provider', 'POST', '/data', { uuid: ['evt', 'ev1', 'ev2'], problems: 'ev' });
    await t.call('author', 'POST', '/algo', { uuid: 'eva', name: 'a', problem: 'ev' });
    const [rank0, rank1] = (await t.call('reader', 'GET', '/learnuplet?algo=eva')).body.learnuplets;
    const claim = await t.call('compute', 'POST', `/worker/learnuplet/${rank0.uuid}`, { worker: 'n1' });
    await t.call('compute', 'POST', `/learndone/${rank0.uuid}`, {
      status: 'done',
      perf: 0.7,
      train_perf: [0.7],
      test_perf: [0.7],
      lease_token: claim.body.lease.token,
    });

    const ofInterest = () =>
      heard.filter((h) => h.event.id === rank0.uuid || h.event.id === rank1.uuid).map((h) => `${h.event.id === rank0.uuid ? 'r0' : 'r1'}:${h.key}`);
    await waitFor(async () => (ofInterest().includes('r1:learnuplet.todo') ? true : undefined), 10_000);
    expect(ofInterest()).toEqual(['r0:learnuplet.todo', 'r0:learnuplet.pending', 'r0:learnuplet.done', 'r1:learnuplet.todo']);
    const done = heard.find((h) => h.key === 'learnuplet.done')!.event;
    expect(done).toMatchObject({ subject: 'learnuplet', id: rank0.uuid, status: 'done', attempt: 1 });
    expect(Number.isNaN(Date.parse(done.at))).toBe(false);
  });
});
