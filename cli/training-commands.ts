import { Option, type Command } from 'commander';
import fs from 'node:fs';
import type { ColumnProfile, Dataset, TrainerRun, UpletClient } from '../shared/sdk';
import { UsageError } from './exit-codes';
import type { Output } from './output';

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const num = (v: unknown, digits = 4): string => (typeof v === 'number' && Number.isFinite(v) ? Number(v.toFixed(digits)).toString() : '-');

function columnLine(c: ColumnProfile): string {
  const extra =
    c.type === 'numeric'
      ? `min ${num(c.min)} max ${num(c.max)} mean ${num(c.mean)}`
      : c.type === 'category' || c.type === 'boolean'
        ? `top ${c.top_values
            .slice(0, 3)
            .map((t) => `${t.value} (${t.count})`)
            .join(', ')}`
        : c.type === 'timestamp'
          ? `${c.min ?? '-'} … ${c.max ?? '-'}`
          : '';
  return `  ${c.name.padEnd(24)} ${c.type.padEnd(9)} missing ${String(c.missing).padStart(5)}  distinct ${String(c.distinct).padStart(5)}  ${extra}`.trimEnd();
}

export function datasetLines(d: Dataset): string {
  const head = `dataset ${d.dataset_id} "${d.name}" at ${d.site}: ${d.status}${d.failure_reason ? ` (${d.failure_reason})` : ''}`;
  if (!d.profile) return head;
  return [`${head}, ${d.profile.row_count} rows, ${d.profile.columns.length} columns`, ...d.profile.columns.map(columnLine)].join('\n');
}

function best(run: TrainerRun): string {
  const b = run.progress.best_so_far;
  if (!b) return 'best -';
  const metrics = b.metrics
    ? Object.entries(b.metrics)
        .map(([k, v]) => `${k} ${num(v)}`)
        .join(', ')
    : num(b.objective);
  return `best ${metrics}${b.family ? ` (${b.family})` : ''}`;
}

export function progressLine(run: TrainerRun): string {
  const p = run.progress;
  return `  ${run.job_id} ${run.status}: trials ${p.trials_done}/${p.trials_total}${p.trials_failed ? ` (${p.trials_failed} failed)` : ''} · ${best(run)}`;
}

export function runLines(run: TrainerRun): string {
  const lines = [
    `trainer run ${run.job_id} on ${run.dataset_id}: ${run.status}${run.message ? ` (${run.message})` : ''}`,
    progressLine(run),
    'leaderboard (per row, best trial):',
  ];
  for (const row of run.leaderboard) {
    const top = row.trials[0];
    const weights = Object.entries(row.weights)
      .filter(([, w]) => w > 0)
      .map(([m, w]) => (w === 1 ? m : `${w}·${m}`))
      .join(' + ');
    lines.push(
      `  row ${row.row} ${row.family.padEnd(24)} ${weights.padEnd(16)} ${
        top
          ? `${Object.entries(top.metrics ?? {})
              .map(([k, v]) => `${k} ${num(v)}`)
              .join(', ')}  (${row.trials.length} done)`
          : 'no trial done'
      }`,
    );
  }
  if (run.pareto_front) lines.push(`pareto front: ${run.pareto_front.length} trials`);
  if (run.final_model) {
    const m = run.final_model;
    lines.push(
      `model ${m.model_id} (${m.kind}, ${m.family}); held-out: ${Object.entries(m.report.metrics ?? {})
        .map(([k, v]) => `${k} ${num(v)}`)
        .join(', ')}`,
    );
  }
  return lines.join('\n');
}

/** `uplet dataset push|show`, `uplet train`, `uplet job`: the training APIs. */
export function addTrainingCommands(
  program: Command,
  ctx: {
    client: (needStorage?: boolean) => UpletClient;
    out: () => Output;
    uuidFromFile: (file: string) => string;
  },
): void {
  const { client, out } = ctx;
  const id = (value: string, what: string) => {
    if (!ID.test(value))
      throw new UsageError(
        `${what} ${JSON.stringify(value)} is not a valid id`,
        'use 1-64 letters, digits, dashes or underscores, starting with a letter or digit',
      );
    return value;
  };
  const seconds = (v: string | undefined) => (v === undefined ? {} : { timeoutMs: Number(v) * 1000 });

  const dataset = program.command('dataset').description('training datasets: a CSV uploaded, registered and profiled at its site');
  dataset
    .command('push <file>')
    .description('upload a CSV, register it as a dataset, wait for its profile and print its columns')
    .requiredOption('--name <name>', 'a readable name')
    .option('--site <site>', "the site whose gateway holds it (default: the server's default site)")
    .option('--uuid <uuid>', "the blob's uuid (default: the file name without extension)")
    .option('--no-wait', 'do not wait for the profile')
    .option('--timeout <s>', 'give up waiting after this many seconds (exit 5)')
    .action(async (file: string, opts: { name: string; site?: string; uuid?: string; wait: boolean; timeout?: string }) => {
      if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UsageError(`${file} is not a file`);
      const storageUuid = id(opts.uuid ?? ctx.uuidFromFile(file), 'blob uuid');
      const c = client(true);
      const o = out();
      const pushed = await c.pushDataset(
        file,
        { name: opts.name, storage_uuid: storageUuid, ...(opts.site ? { site: opts.site } : {}) },
        {
          onProgress: (sent, total) => o.progress(`  uploading ${storageUuid} ${sent}/${total} bytes`),
        },
      );
      o.endProgress();
      o.info(`  data ${storageUuid}: ${pushed.blob.size} bytes; dataset ${pushed.dataset_id} profiling…`);
      const d = opts.wait ? await c.waitForDataset(pushed.dataset_id, seconds(opts.timeout)) : await c.getDataset(pushed.dataset_id);
      o.result({ dataset: d }, () => datasetLines(d));
    });
  dataset
    .command('show <id>')
    .description('a dataset: its status and profile (columns, types, missing)')
    .action(async (datasetId: string) => {
      const d = await client().getDataset(id(datasetId, 'dataset id'));
      out().result({ dataset: d }, () => datasetLines(d));
    });
  dataset
    .command('list')
    .description('your datasets')
    .action(async () => {
      const ds = await client().listDatasets({ limit: 1000 });
      out().result({ datasets: ds }, () =>
        ds.length
          ? ds
              .map((d) => `  ${d.dataset_id}  "${d.name}" ${d.status}${d.profile ? `, ${d.profile.row_count} rows × ${d.profile.columns.length} columns` : ''}`)
              .join('\n')
          : 'no dataset',
      );
    });

  program
    .command('train <dataset_id>')
    .description('a trainer run on a dataset; --wait shows trials done/total and the best so far, then the leaderboard and held-out metrics')
    .requiredOption('--label <column>', 'the label column')
    .addOption(new Option('--task <kind>', 'the task').choices(['classification', 'regression']).makeOptionMandatory())
    .option('--model-types <ids>', "model families (comma-separated; default: from the dataset's shape)")
    .option('--trials <n>', 'trials per matrix row')
    .option('--folds <k>', 'k-fold cross-validation (default: one holdout split)')
    .option('--metrics <names>', 'metrics (comma-separated; the first is the objective)')
    .option('--grid-size <n>', 'with several metrics: a Pareto sweep of weightings')
    .option('--ensemble', 'a Caruana ensemble of the trials instead of refitting the best')
    .option('--random-state <n>', 'the seed every seed derives from')
    .option('--wait', 'wait until it completes or fails')
    .option('--interval <ms>', 'poll interval', '1000')
    .option('--timeout <s>', 'give up waiting after this many seconds (exit 5)')
    .action(
      async (
        datasetId: string,
        opts: {
          label: string;
          task: 'classification' | 'regression';
          modelTypes?: string;
          trials?: string;
          folds?: string;
          metrics?: string;
          gridSize?: string;
          ensemble?: boolean;
          randomState?: string;
          wait?: boolean;
          interval: string;
          timeout?: string;
        },
      ) => {
        const int = (v: string | undefined, flag: string, min: number) => {
          if (v === undefined) return undefined;
          const n = Number(v);
          if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} ${v} is not an integer ≥ ${min}`);
          return n;
        };
        const names = (v: string | undefined) =>
          v === undefined
            ? undefined
            : v
                .split(',')
                .map((x) => x.trim())
                .filter(Boolean);
        const input = {
          dataset_id: id(datasetId, 'dataset id'),
          task: { label_column: opts.label, task_kind: opts.task },
          ...(opts.modelTypes ? { model_types: names(opts.modelTypes)! } : {}),
          ...(opts.metrics ? { metrics: names(opts.metrics)! } : {}),
          ...(opts.trials ? { n_trials: int(opts.trials, '--trials', 1)! } : {}),
          ...(opts.folds ? { n_splits: int(opts.folds, '--folds', 2)! } : {}),
          ...(opts.gridSize ? { grid_size: int(opts.gridSize, '--grid-size', 1)! } : {}),
          ...(opts.randomState ? { random_state: int(opts.randomState, '--random-state', 0)! } : {}),
          ...(opts.ensemble ? { ensemble: true } : {}),
        };
        const c = client();
        const o = out();
        const submitted = await c.submitTrainerRun(input);
        if (!opts.wait)
          return o.result(
            submitted,
            () => `trainer run ${submitted.job_id} ${submitted.status} on ${submitted.dataset_id} (follow it with \`uplet job ${submitted.job_id}\`)`,
          );
        o.info(`trainer run ${submitted.job_id} submitted`);
        let last = '';
        // Redrawn in place on a terminal; else one line each time it changes (on stderr, not with --json).
        const onUpdate = (r: TrainerRun) => {
          const line = progressLine(r);
          if (o.interactive) o.progress(line);
          else if (line !== last) o.info(line);
          last = line;
        };
        const run = await c.waitForTrainerRun(submitted.job_id, {
          intervalMs: Math.max(100, Number(opts.interval) || 1000),
          ...seconds(opts.timeout),
          onUpdate,
        });
        o.endProgress();
        o.result(run, () => runLines(run));
      },
    );

  program
    .command('job <job_id>')
    .description('a trainer run: status, progress, leaderboard, Pareto front, final model')
    .action(async (jobId: string) => {
      const run = await client().getTrainerRun(id(jobId, 'job id'));
      out().result(run, () => runLines(run));
    });
}
