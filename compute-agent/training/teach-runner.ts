import fs from 'node:fs';
import path from 'node:path';
import { engineOutputUuid } from '../../shared/contracts/blob-contract';
import type { EngineTeachTask, TeachDone } from '../../shared/contracts/work-contract';
import { TaskStepFailed, type TaskWorkspace } from '../tasks/task-workspace';
import { fetchDataset, readJson, runEngine, uploadOutput } from './engine-command';
import { askTeacher, TeacherFailed, type TeacherSamples } from './teacher-client';
import { dataSpec } from './trial-runner';

/**
 * A teach task (distillation): the teacher's predictions on the job's training rows, uploaded as
 * this attempt's targets blob for the job's trials and final task. A teacher model predicts in the
 * sandbox (Python `teach` with `teacher_model`); for a teacher URL the sandbox only writes the
 * rows' input fields, and the agent sends them (teacher-client.ts). A teacher that fails, fails
 * the task for good, with the reason.
 */
export async function runTeachTask(task: EngineTeachTask, attempt: number, ws: TaskWorkspace): Promise<TeachDone> {
  const dataset = await fetchDataset(ws, task.storage_uuid, task.owner);
  const inputs: Record<string, string> = { 'dataset.csv': dataset };
  const spec: Record<string, unknown> = dataSpec(task);
  if (task.teacher.kind === 'model') {
    inputs['teacher.pkl'] = await ws.fetchFile('teacher.pkl', 'model', task.teacher.model_storage_uuid);
    spec.teacher_model = 'data/teacher.pkl';
  }
  const out = await runEngine(ws, 'teach', spec, inputs);
  const result = await readJson(path.join(out, 'result.json'));
  let targets = path.join(out, 'targets.json');
  if (task.teacher.kind === 'url') {
    const samples = (await readJson(path.join(out, 'samples.json'))) as unknown as TeacherSamples;
    const settings = ws.engine?.teacher;
    if (!settings) throw new Error('this agent has no teacher settings');
    let predictions;
    try {
      predictions = await askTeacher(task.teacher, samples, settings, ws.signal);
    } catch (err) {
      if (err instanceof TeacherFailed) throw new TaskStepFailed('teacher', undefined, `teacher_failed: ${err.message}`, true);
      throw err;
    }
    targets = ws.path('targets.json');
    const file = { task_kind: task.task_kind, classes: samples.classes, n_rows: predictions.length, source: 'url', predictions };
    await fs.promises.writeFile(targets, JSON.stringify(file), { mode: 0o600 });
  }
  const storageUuid = engineOutputUuid(task.uuid, attempt, 'targets');
  await uploadOutput(ws, 'model', storageUuid, targets, task.uuid, attempt, { contentType: 'application/json' });
  return { status: 'done', result, targets_storage_uuid: storageUuid };
}
