import { Router, type Response } from 'express';
import Joi from 'joi';
import { principalOf, requireRole } from '../../shared/http/authenticate';
import { parseAkkioTrainBody } from '../training/trainer-run-request';
import { asAkkioProblem, type AkkioTraining } from '../training/akkio';

const taskIdPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const idempotencyKey = Joi.string()
  .min(1)
  .max(200)
  .pattern(/^[\x21-\x7e]+$/);

/**
 * The Akkio-style asynchronous training API (seeds 000/001), under `/api/v1`. Every refusal of
 * these paths (422, 404, 409) is seed 001's `{detail: [{loc, msg, type}]}`; a missing or wrong
 * key is the project's 401 (authentication runs before any route).
 */
export function akkioRoutes(akkio: AkkioTraining): Router {
  const router = Router();
  const users = requireRole('organizer', 'data-provider', 'algo-author', 'admin');

  const refuse = (res: Response, err: unknown) => {
    const problem = asAkkioProblem(err);
    if (!problem) throw err;
    res.status(problem.status).json({ ...problem.extra, detail: problem.detail });
  };
  const checkTaskId = (res: Response, id: string) => {
    if (taskIdPattern.test(id)) return true;
    res.status(404).json({ detail: [{ loc: ['path', 'task_id'], msg: `no training task ${id.slice(0, 100)}`, type: 'value_error.not_found' }] });
    return false;
  };

  router.post('/api/v1/models/train/new', users, async (req, res) => {
    const key = req.get('idempotency-key');
    if (key !== undefined && idempotencyKey.validate(key).error) {
      res.status(422).json({
        detail: [{ loc: ['header', 'Idempotency-Key'], msg: 'Idempotency-Key must be 1 to 200 visible ASCII characters', type: 'value_error.idempotency_key' }],
      });
      return;
    }
    const parsed = parseAkkioTrainBody(req.body);
    if (!parsed.ok) {
      res.status(422).json({ detail: parsed.problems });
      return;
    }
    try {
      const { task_id: taskId, created } = await akkio.submit(parsed.value, principalOf(res), key ?? null);
      // 201 whether made now or answered from an earlier identical or retried request (seed 001 promises 201 {task_id}).
      res.status(201).set('x-task-created', String(created)).json({ task_id: taskId });
    } catch (err) {
      refuse(res, err);
    }
  });

  router.get('/api/v1/models/train/:task_id/status', users, async (req, res) => {
    const id = String(req.params.task_id);
    if (!checkTaskId(res, id)) return;
    try {
      res.json(await akkio.status(id, principalOf(res)));
    } catch (err) {
      refuse(res, err);
    }
  });

  router.get('/api/v1/models/train/:task_id/result', users, async (req, res) => {
    const id = String(req.params.task_id);
    if (!checkTaskId(res, id)) return;
    try {
      res.json(await akkio.result(id, principalOf(res)));
    } catch (err) {
      refuse(res, err);
    }
  });

  return router;
}
