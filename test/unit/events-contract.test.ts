import { endedJobOf } from '../../shared/contracts/events-contract';

const event = (body: unknown) => Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));

describe("a job's end event, as the agents read it", () => {
  test.each(['completed', 'failed', 'canceled'])('job.%s names the job', (status) => {
    expect(endedJobOf(event({ subject: 'job', id: 'job-1', status, at: '2026-12-06T00:00:00Z' }))).toBe('job-1');
  });

  test('a running job, another subject, a malformed or non-JSON body name none', () => {
    expect(endedJobOf(event({ subject: 'job', id: 'job-1', status: 'running' }))).toBeUndefined();
    expect(endedJobOf(event({ subject: 'trial', id: 'job-1-0-0', status: 'canceled' }))).toBeUndefined();
    expect(endedJobOf(event({ subject: 'job', id: 42, status: 'completed' }))).toBeUndefined();
    expect(endedJobOf(event('not json'))).toBeUndefined();
    expect(endedJobOf(event('null'))).toBeUndefined();
  });
});
