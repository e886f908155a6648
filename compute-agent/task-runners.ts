import type { DoneReportOfKind, TaskKind, TaskOfKind } from '../shared/contracts/work-contract';
import type { Logger } from '../shared/logging/logger';
import { runLearnTask } from './tasks/learn-task';
import { runPredictTask } from './tasks/predict-task';
import type { TaskWorkspace } from './tasks/task-workspace';
import { runEnginePredictTask } from './training/engine-predict';
import { runFinalTask } from './training/final-runner';
import { runProfileTask } from './training/profile-runner';
import { runSynthesizeTask } from './training/synthesize-runner';
import { runTeachTask } from './training/teach-runner';
import { runTrialTask } from './training/trial-runner';

/** How the agent runs one kind of task: in its workspace, to the report of a done attempt (throw to fail it). */
export interface TaskRunner<K extends TaskKind> {
  run(task: TaskOfKind[K], attempt: number, ws: TaskWorkspace, logger: Logger): Promise<DoneReportOfKind[K]>;
}

/** The agent's per-kind table: a new kind of task is a new row, with the orchestrator's row in orchestrator/work/task-kinds.ts. */
export const TASK_RUNNERS: { readonly [K in TaskKind]: TaskRunner<K> } = {
  learnuplet: { run: (task, _attempt, ws, logger) => runLearnTask(task, ws, logger) },
  // A preduplet naming a training-engine model runs the engine's predict; the seed's path is unchanged.
  preduplet: { run: (task, attempt, ws) => (task.engine_model ? runEnginePredictTask(task, attempt, ws) : runPredictTask(task, attempt, ws)) },
  profile: { run: (task, _attempt, ws) => runProfileTask(task, ws) },
  trial: { run: (task, attempt, ws) => runTrialTask(task, attempt, ws) },
  final: { run: (task, attempt, ws) => runFinalTask(task, attempt, ws) },
  synthesize: { run: (task, attempt, ws) => runSynthesizeTask(task, attempt, ws) },
  teach: { run: (task, attempt, ws) => runTeachTask(task, attempt, ws) },
};

/** The row of a kind, typed for the runner that handles every kind alike. */
export function runnerOf(kind: TaskKind): TaskRunner<TaskKind> {
  return TASK_RUNNERS[kind];
}
