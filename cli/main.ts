#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UpletClient, type Chain, type CollectionName, type Leaderboard } from '../shared/sdk';
import { packArchive } from '../standalone/pack-archive';
import { renderProgress } from '../standalone/demo-progress';
import { configPath, readConfigFile, resolveConfig, writeConfigFile } from './config';
import { EXIT, EXIT_HELP, UsageError } from './exit-codes';
import { Output } from './output';
import { addTrainingCommands } from './training-commands';

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const COLLECTIONS: CollectionName[] = ['problem', 'algo', 'data', 'learnuplet', 'preduplet'];

interface Globals {
  json?: boolean;
  orchestrator?: string;
  storage?: string;
}

/** A data or blob uuid from a file name: its base name without extension, made an identifier. */
export function uuidFromFile(file: string): string {
  const base = path
    .basename(file)
    .replace(/\.[^.]*$/, '')
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .replace(/^[-_]+/, '')
    .slice(0, 64);
  if (!ID.test(base))
    throw new UsageError(`cannot make a uuid from the file name ${JSON.stringify(path.basename(file))}`, 'rename the file (letters, digits, - and _)');
  return base;
}

function identifier(value: string, what: string): string {
  if (!ID.test(value))
    throw new UsageError(
      `${what} ${JSON.stringify(value)} is not a valid uuid`,
      'use 1-64 letters, digits, dashes or underscores, starting with a letter or digit',
    );
  return value;
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

function bar(done: number, total: number, width = 24): string {
  const f = total > 0 ? Math.min(1, done / total) : 1;
  return `[${'#'.repeat(Math.round(f * width)).padEnd(width)}] ${(f * 100).toFixed(0).padStart(3)}%`;
}

function boardLines(board: Leaderboard): string {
  if (!board.leaderboard.length) return `problem ${board.problem}: no algo yet`;
  const w = Math.max(4, ...board.leaderboard.map((r) => r.name.length));
  return [
    `leaderboard of ${board.problem} (${board.metric_direction} is better)`,
    ...board.leaderboard.map(
      (r, i) =>
        `  ${String(i + 1).padStart(2)}. ${r.name.padEnd(w)}  best ${r.best_perf === null ? '  -  ' : r.best_perf.toFixed(3)}  rank ${r.rank ?? '-'}  ${r.by_status.done ?? 0}/${r.ranks} done`,
    ),
  ].join('\n');
}

function chainRows(chains: Chain[]) {
  return chains.map((c) => ({
    algo: c.algo.uuid,
    name: c.algo.name,
    statuses: c.links.map((l) => l.status),
    perfs: c.links.map((l) => (l.status === 'done' ? l.perf : null)),
  }));
}

export function buildProgram(out: () => Output): Command {
  const program = new Command('uplet')
    .description(
      'uplet: post problems, data and algos, watch chains train, get predictions.\nKeys come from UPLET_API_KEY or the config file written by `uplet login` (never from the command line).',
    )
    .option('--json', 'machine-readable output on stdout (errors as JSON on stderr)')
    .option('--orchestrator <url>', 'orchestrator URL (else UPLET_ORCHESTRATOR_URL, else the config file)')
    .option('--storage <url>', 'storage gateway URL (else UPLET_STORAGE_URL, else the config file)')
    .addHelpText('after', `\nConfig file: ${configPath()} (mode 0600; UPLET_CONFIG names another)\n${EXIT_HELP}`)
    .showSuggestionAfterError(true)
    // Errors are printed once, in uplet's one-line form, by main(); subcommands inherit this.
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) })
    .exitOverride();
  const globals = (): Globals => program.opts<Globals>();
  const client = (needStorage = false) => {
    const g = globals();
    const config = resolveConfig(
      { ...(g.orchestrator ? { orchestrator: g.orchestrator } : {}), ...(g.storage ? { storage: g.storage } : {}) },
      (l) => out().warn(l),
      process.env,
      needStorage,
    );
    return new UpletClient({ orchestratorUrl: config.orchestrator, ...(config.storage ? { storageUrl: config.storage } : {}), apiKey: config.apiKey });
  };
  const upload = async (c: UpletClient, kind: 'data' | 'algo' | 'workflow', uuid: string, file: string, contentType: string) => {
    const o = out();
    const meta = await c.uploadFile(kind, uuid, file, {
      contentType,
      onProgress: (sent, total) => o.progress(`  uploading ${kind} ${uuid} ${bar(sent, total)}`),
    });
    o.endProgress();
    o.info(`  ${kind} ${uuid}: ${meta.size} bytes, sha256 ${meta.sha256.slice(0, 12)}…`);
    return meta;
  };

  program
    .command('login')
    .description('save the URLs and the API key (read from stdin, not the command line) in the config file, mode 0600')
    .action(async () => {
      const g = globals();
      const file = configPath();
      const previous = readConfigFile(file, (l) => out().warn(l));
      if (process.stdin.isTTY) process.stderr.write('API key (input hidden is not supported here; paste and press Enter): ');
      const key = (await readStdinLine()).trim();
      if (key.length < 16) throw new UsageError('the key read from stdin is empty or too short', 'pipe it in: `uplet login < keyfile`, or type it when asked');
      const config = { ...previous, ...(g.orchestrator ? { orchestrator: g.orchestrator } : {}), ...(g.storage ? { storage: g.storage } : {}), apiKey: key };
      writeConfigFile(file, config);
      out().result({ config: file, orchestrator: config.orchestrator ?? null, storage: config.storage ?? null }, () => `saved to ${file} (mode 0600)`);
    });

  const problem = program.command('problem').description('organizers: problems');
  problem
    .command('create <dir>')
    .description(
      'create a problem from a folder: <dir>/workflow/ is packed and uploaded, <dir>/test/* uploaded and registered as its test data (needs the organizer and data-provider roles, or pass --test-data of data held by providers)',
    )
    .requiredOption('--uuid <uuid>', "the problem's uuid")
    .option('--size-train <n>', 'data items per minibatch (per rank)', '1')
    .addOption(new Option('--metric-direction <dir>', 'whether a higher or lower perf is better').choices(['higher', 'lower']).default('higher'))
    .option('--test-data <uuids>', 'test data already registered by providers (comma-separated) instead of <dir>/test/')
    .action(async (dir: string, opts: { uuid: string; sizeTrain: string; metricDirection: 'higher' | 'lower'; testData?: string }) => {
      const uuid = identifier(opts.uuid, 'problem uuid');
      const size = Number(opts.sizeTrain);
      if (!Number.isInteger(size) || size < 1) throw new UsageError(`--size-train ${opts.sizeTrain} is not a positive integer`);
      const workflowDir = path.join(dir, 'workflow');
      if (!fs.existsSync(path.join(workflowDir, 'run')))
        throw new UsageError(
          `${workflowDir}/run does not exist`,
          "the folder needs workflow/run (the detarget + score program, see the README's compute contract)",
        );
      const testDir = path.join(dir, 'test');
      const testFiles = opts.testData
        ? []
        : fs.existsSync(testDir)
          ? fs
              .readdirSync(testDir)
              .filter((f) => fs.statSync(path.join(testDir, f)).isFile())
              .sort()
              .map((f) => path.join(testDir, f))
          : [];
      const testUuids = opts.testData ? list(opts.testData).map((u) => identifier(u, 'test data uuid')) : testFiles.map(uuidFromFile);
      if (!testUuids.length)
        throw new UsageError(
          `no test data: ${testDir} has no file and --test-data is not given`,
          'put the test files in <dir>/test/ or name registered data with --test-data',
        );
      const c = client(true);
      const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-cli-'));
      try {
        const archive = path.join(scratch, 'workflow.tar.gz');
        await packArchive(workflowDir, archive);
        const workflow = `${uuid}-workflow`;
        await upload(c, 'workflow', workflow, archive, 'application/gzip');
        for (const [i, f] of testFiles.entries()) await upload(c, 'data', testUuids[i]!, f, 'text/csv');
        const created = await c.createProblem({ uuid, workflow, test_dataset: testUuids, size_train_dataset: size, metric_direction: opts.metricDirection });
        if (testFiles.length) await c.registerData({ uuids: testUuids, problems: [uuid] });
        out().result({ problem: created }, () => `problem ${uuid} created: workflow ${workflow}, ${testUuids.length} test data, minibatches of ${size}`);
      } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
      }
    });
  problem
    .command('cancel <uuid>')
    .description("cancel a problem's queued work")
    .action(async (uuid: string) => {
      const r = await client().cancelProblem(identifier(uuid, 'problem uuid'));
      out().result(r, () => `problem ${uuid} canceled: ${r.canceled_learnuplets} learnuplets, ${r.canceled_preduplets} preduplets`);
    });

  const data = program.command('data').description('data providers: data');
  data
    .command('push <files...>')
    .description('upload files as data (uuid = file name without extension) and register them to problems')
    .option('--problem <uuids>', 'problems to register to (comma-separated); none: for your own predictions only', '')
    .action(async (files: string[], opts: { problem: string }) => {
      const problems = list(opts.problem).map((p) => identifier(p, 'problem uuid'));
      const uuids = files.map(uuidFromFile);
      if (new Set(uuids).size !== uuids.length) throw new UsageError('two files give the same uuid', 'rename them');
      for (const f of files) if (!fs.statSync(f).isFile()) throw new UsageError(`${f} is not a file`);
      const c = client(true);
      for (const [i, f] of files.entries()) await upload(c, 'data', uuids[i]!, f, f.endsWith('.csv') ? 'text/csv' : 'application/octet-stream');
      const r = await c.registerData({ uuids, problems });
      out().result(
        { data: uuids, new_datas: r.datas.length, new_learnuplets: r.newLearnuplets },
        () => `${uuids.length} data registered${problems.length ? ` to ${problems.join(', ')}` : ''}: ${r.newLearnuplets} new learnuplets`,
      );
    });

  const algo = program.command('algo').description('algo authors: algos');
  algo
    .command('push <dir>')
    .description('pack a folder (with its `run`), upload it and post it to a problem: one learnuplet per minibatch')
    .requiredOption('--problem <uuid>', 'the problem')
    .option('--uuid <uuid>', "the algo's uuid (default: the folder name)")
    .option('--name <name>', 'a readable name (default: the uuid)')
    .action(async (dir: string, opts: { problem: string; uuid?: string; name?: string }) => {
      if (!fs.existsSync(path.join(dir, 'run')))
        throw new UsageError(`${dir}/run does not exist`, "an algo folder holds an executable `run` (see the README's compute contract)");
      const uuid = identifier(opts.uuid ?? uuidFromFile(path.resolve(dir)), 'algo uuid');
      const problemUuid = identifier(opts.problem, 'problem uuid');
      const c = client(true);
      const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-cli-'));
      try {
        const archive = path.join(scratch, 'algo.tar.gz');
        await packArchive(dir, archive);
        await upload(c, 'algo', uuid, archive, 'application/gzip');
        const r = await c.createAlgo({ uuid, name: opts.name ?? uuid, problem: problemUuid });
        out().result({ algo: r.algo, new_learnuplets: r.newLearnuplets }, () => `algo ${uuid} posted to ${problemUuid}: ${r.newLearnuplets} learnuplets`);
      } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
      }
    });
  algo
    .command('cancel <uuid>')
    .description("cancel an algo's chain")
    .action(async (uuid: string) => {
      const r = await client().cancelAlgo(identifier(uuid, 'algo uuid'));
      out().result(r, () => `algo ${uuid} canceled: ${r.canceled_learnuplets} learnuplets`);
    });

  program
    .command('watch <problem>')
    .description("watch a problem's chains live (ranks, perf, leaderboard) until every chain has ended")
    .option('--algo <uuid>', 'one algo only')
    .option('--interval <ms>', 'poll interval', '1000')
    .option('--timeout <s>', 'give up after this many seconds (exit 5)')
    .option('--once', 'print the current state and exit')
    .action(async (problemUuid: string, opts: { algo?: string; interval: string; timeout?: string; once?: boolean }) => {
      identifier(problemUuid, 'problem uuid');
      const c = client();
      const o = out();
      const started = Date.now();
      let drawn = 0;
      const draw = (chains: Chain[]) => {
        if (!o.interactive) return;
        const frame = renderProgress(chainRows(chains), (Date.now() - started) / 1000).replace('uplet demo', `uplet watch ${problemUuid}`);
        if (drawn) process.stderr.write(`\x1b[${drawn}A\x1b[0J`);
        process.stderr.write(`${frame}\n`);
        drawn = frame.split('\n').length;
      };
      const chains = opts.once
        ? await c.chains(problemUuid, opts.algo)
        : await c.waitForChains(problemUuid, {
            ...(opts.algo ? { algo: opts.algo } : {}),
            intervalMs: Math.max(100, Number(opts.interval) || 1000),
            onUpdate: draw,
            ...(opts.timeout ? { timeoutMs: Number(opts.timeout) * 1000 } : {}),
          });
      const board = await c.leaderboard(problemUuid);
      o.result(
        {
          chains: chains.map((ch) => ({
            algo: ch.algo.uuid,
            name: ch.algo.name,
            finished: ch.finished,
            ranks: ch.links.map((l) => ({ rank: l.rank, status: l.status, perf: l.perf })),
          })),
          leaderboard: board.leaderboard,
        },
        () =>
          `${o.interactive ? '' : `${renderProgress(chainRows(chains), (Date.now() - started) / 1000).replace('uplet demo', `uplet watch ${problemUuid}`)}\n`}${boardLines(board)}`,
      );
    });

  program
    .command('leaderboard <problem>')
    .description("a problem's leaderboard")
    .action(async (problemUuid: string) => {
      const board = await client().leaderboard(identifier(problemUuid, 'problem uuid'));
      out().result(board, () => boardLines(board));
    });

  program
    .command('list <collection>')
    .description(`list documents: ${COLLECTIONS.join(', ')}`)
    .option('--problem <uuid>')
    .option('--algo <uuid>')
    .option('--status <status>')
    .option('--uuid <uuid>')
    .action(async (collection: string, opts: Record<string, string | undefined>) => {
      const name = collection.replace(/s$/, '').replace(/^datas?$/, 'data') as CollectionName;
      if (!COLLECTIONS.includes(name)) throw new UsageError(`unknown collection ${JSON.stringify(collection)}`, `use one of ${COLLECTIONS.join(', ')}`);
      const filters = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
      const docs = await client().list(name, filters);
      out().result(docs, () => (docs.length ? docs.map((d) => summary(name, d as unknown as Record<string, unknown>)).join('\n') : `no ${name} matches`));
    });

  program
    .command('predict <problem>')
    .description("request predictions on your data with the problem's best model; --wait to wait and --out to download them")
    .requiredOption('--data <uuids>', 'data uuids (comma-separated, your own)')
    .option('--wait', 'wait until they are done')
    .option('--out <dir>', 'download the predictions into this folder (implies --wait)')
    .option('--timeout <s>', 'give up waiting after this many seconds (exit 5)')
    .action(async (problemUuid: string, opts: { data: string; wait?: boolean; out?: string; timeout?: string }) => {
      const dataUuids = list(opts.data).map((d) => identifier(d, 'data uuid'));
      const c = client(Boolean(opts.out));
      const uuids = await c.requestPredictions({ data: dataUuids, problem: identifier(problemUuid, 'problem uuid') });
      if (!opts.wait && !opts.out) return out().result({ preduplets: uuids }, () => `requested ${uuids.length} predictions: ${uuids.join(', ')}`);
      const o = out();
      const docs = await c.waitForPredictions(uuids, {
        intervalMs: 500,
        ...(opts.timeout ? { timeoutMs: Number(opts.timeout) * 1000 } : {}),
        onUpdate: (d) => o.progress(`  predictions ${bar(d.filter((p) => p.status === 'done').length, d.length)}`),
      });
      o.endProgress();
      const files: string[] = [];
      if (opts.out) {
        for (const p of docs) {
          const file = path.join(opts.out, `${p.data}.predictions`);
          await c.downloadPrediction(p, file);
          files.push(file);
        }
      }
      o.result(
        {
          preduplets: docs.map((p) => ({ uuid: p.uuid, data: p.data, status: p.status, algo: p.algo, prediction_storage_uuid: p.prediction_storage_uuid })),
          files,
        },
        () => docs.map((p, i) => `  ${p.uuid}: ${p.data} ${p.status} (model of ${p.algo})${files[i] ? ` → ${files[i]}` : ''}`).join('\n'),
      );
    });

  program
    .command('download <kind> <uuid>')
    .description('download a blob you may read (an algo or workflow of yours, a prediction you requested), checked by sha256')
    .option('-o, --out <file>', 'where to write it (default: ./<uuid>)')
    .action(async (kind: string, uuid: string, opts: { out?: string }) => {
      if (!['algo', 'workflow', 'model', 'prediction', 'data'].includes(kind))
        throw new UsageError(`unknown blob kind ${JSON.stringify(kind)}`, 'use algo, workflow, model, prediction or data');
      const dest = opts.out ?? path.join(process.cwd(), identifier(uuid, 'blob uuid'));
      const meta = await client(true).downloadFile(kind as 'algo', identifier(uuid, 'blob uuid'), dest);
      out().result({ file: dest, ...meta }, () => `${dest}: ${meta.size} bytes, sha256 ${meta.sha256}`);
    });

  program
    .command('cancel <kind> <uuid>')
    .description('cancel an algo, a problem or a preduplet')
    .action(async (kind: string, uuid: string) => {
      if (!['algo', 'problem', 'preduplet'].includes(kind)) throw new UsageError(`cannot cancel a ${JSON.stringify(kind)}`, 'use algo, problem or preduplet');
      const r = await client().post<{ canceled_learnuplets: number; canceled_preduplets: number }>(`/${kind}/${identifier(uuid, `${kind} uuid`)}/cancel`);
      out().result(r, () => `${kind} ${uuid} canceled: ${r.canceled_learnuplets} learnuplets, ${r.canceled_preduplets} preduplets`);
    });

  addTrainingCommands(program, { client, out, uuidFromFile });

  for (const [name, what] of [
    ['sites', 'sites and their agents'],
    ['agents', 'compute agents'],
  ] as const) {
    program
      .command(name)
      .description(`list ${what} (when the orchestrator serves GET /${name})`)
      .action(async () => {
        const body = await client().get<Record<string, unknown>>(`/${name}`);
        const items = (body[name] as Array<Record<string, unknown>> | undefined) ?? [];
        out().result(body, () =>
          items.length
            ? items
                .map((s) => `  ${str(s.name ?? s.site ?? s.uuid ?? s)}${Array.isArray(s.live_agents) ? ` · ${s.live_agents.length} live agents` : ''}`)
                .join('\n')
            : `no ${name}`,
        );
      });
  }
  return program;
}

/** A field for a human line: strings and numbers as they are, anything else as JSON. */
const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : (JSON.stringify(v) ?? ''));

function summary(name: CollectionName, d: Record<string, unknown>): string {
  const f = (k: string) => str(d[k]);
  switch (name) {
    case 'problem':
      return `${f('uuid')}  ${(d.test_dataset as string[]).length} test data, minibatches of ${f('size_train_dataset')}, owner ${f('owner')}`;
    case 'algo':
      return `${f('uuid')}  "${f('name')}" on ${f('problem')}, owner ${f('owner')}`;
    case 'data':
      return `${f('uuid')}  problems [${(d.problems as string[]).join(', ')}], owner ${f('owner')}`;
    case 'learnuplet':
      return `${f('uuid')}  ${f('algo')} rank ${f('rank')} ${f('status')}${d.perf !== null ? ` perf ${Number(d.perf).toFixed(3)}` : ''}${d.site ? ` at ${f('site')}` : ''}`;
    default:
      return `${f('uuid')}  ${f('data')} ${f('status')}${d.failure_reason ? ` (${f('failure_reason')})` : ''}`;
  }
}

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) {
    chunks.push(c as Buffer);
    if (Buffer.concat(chunks).includes(10)) break;
  }
  return Buffer.concat(chunks).toString('utf8').split('\n')[0] ?? '';
}

export async function main(argv: string[]): Promise<number> {
  let output = new Output(argv.includes('--json'));
  const program = buildProgram(() => output);
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    process.stderr.write('\nuplet: interrupted\n');
    process.exit(EXIT.INTERRUPTED);
  });
  try {
    program.hook('preAction', () => {
      output = new Output(Boolean(program.opts<Globals>().json));
    });
    await program.parseAsync(argv, { from: 'node' });
    return EXIT.OK;
  } catch (err) {
    if (interrupted) return EXIT.INTERRUPTED;
    if (err instanceof CommanderError) {
      if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.OK;
      return output.fail(new UsageError(err.message.replace(/^error: /, ''), 'see `uplet --help`'));
    }
    return output.fail(err);
  }
}

if (require.main === module) {
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`uplet: INTERNAL: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
