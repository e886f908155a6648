import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OrchestratorClient } from '../../shared/http/orchestrator-client';
import { silentLogger } from '../../shared/logging/logger';
import { reportFailure } from '../../compute-agent/work-runner';
import { OutputTail } from '../../compute-agent/sandbox/output-tail';

/**
 * A failure report must never fail (issue 15, item 3): an algo that prints a NUL
 * or escape sequences used to make every report a 500, six times per attempt,
 * and the uplet ended with "lease expired 3 times" instead of its real reason.
 */
describe('the agent reports a failure whatever the algo printed', () => {
  test('the log tail keeps newlines and tabs, and replaces every other control character', () => {
    const tail = new OutputTail(1024);
    tail.push(Buffer.from('step 1\n\tok\u0000\u001b[31mred\u007f\r\n'));
    tail.push(Buffer.from('evil\u202Etxt.exe\n'));
    const text = tail.text();
    expect(text).toContain('step 1\n\tok');
    expect(text).toContain('red');
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069]/);
  });

  describe('against an orchestrator that refuses the full report with 400', () => {
    // A stand-in for an orchestrator whose validation is stricter than this agent expects
    // (another version): the agent's fallback is what is under test here, not the server.
    const bodies: any[] = [];
    let server: http.Server;
    let url: string;
    beforeAll(async () => {
      server = http.createServer((req, res) => {
        let raw = '';
        req.on('data', (c) => (raw += c));
        req.on('end', () => {
          const body = JSON.parse(raw);
          bodies.push(body);
          const refuse = 'log_tail' in body || body.reason.length > 500;
          res.writeHead(refuse ? 400 : 200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify(
              refuse
                ? { error: { code: 'VALIDATION_FAILED', message: 'invalid body: "log_tail" is not allowed', details: [{ where: 'body', field: 'log_tail' }] } }
                : { updated_learnuplet: 'u1' },
            ),
          );
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => new Promise<void>((r) => server.close(() => r())));

    test('the agent retries once with a minimal sanitised reason, which is recorded', async () => {
      const client = new OrchestratorClient({ baseUrl: url, apiKey: 'k'.repeat(20), retry: { retries: 5, initialDelayMs: 1 } });
      await reportFailure(client, 'learnuplet', 'u1', 'tok', `train exited with 1\u0000: ${'x'.repeat(3000)}`, 'boom\u0000\n', silentLogger());
      expect(bodies).toHaveLength(2);
      expect(bodies[0]).toMatchObject({ status: 'failed', lease_token: 'tok' });
      expect(bodies[0].log_tail).toBe('boom\ufffd\n');
      expect(bodies[1]).toEqual({ status: 'failed', lease_token: 'tok', reason: expect.stringMatching(/^train exited with 1\?: x+/) });
      expect(bodies[1].reason).toMatch(/^[\x20-\x7e]{1,500}$/);
    });
  });
});
