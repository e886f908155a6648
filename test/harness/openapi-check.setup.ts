import { takeMismatches } from './openapi-conformance';

/**
 * Every test fails when an answer it received through the harness's calls does
 * not match the service's OpenAPI description (UPLET_OPENAPI_CHECK=warn only prints).
 */
afterEach(() => {
  const found = takeMismatches();
  if (found.length === 0) return;
  const text = `answers that do not match the OpenAPI description:\n${found.map((m) => `  - [${m.service}] ${m.problem}`).join('\n')}`;
  if (process.env.UPLET_OPENAPI_CHECK === 'warn') return void process.stderr.write(`${text}\n`);
  throw new Error(text);
});
