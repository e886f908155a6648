import { Router } from 'express';
import { principalOf } from '../../shared/http/authenticate';
import { validate } from '../../shared/http/validate';
import type { Cancellation } from '../work/cancellation';
import { uuidPath } from './request-schemas';

/** Withdraw work: queued uplets are canceled at once, running ones stop at their next heartbeat. Owners and admins only. */
export function cancelRoutes(cancellation: Cancellation): Router {
  const router = Router();
  router.post('/algo/:uuid/cancel', async (req, res) => {
    res.json(await cancellation.cancelAlgo(validate(uuidPath, req.params, 'path').uuid, principalOf(res)));
  });
  router.post('/problem/:uuid/cancel', async (req, res) => {
    res.json(await cancellation.cancelProblem(validate(uuidPath, req.params, 'path').uuid, principalOf(res)));
  });
  router.post('/preduplet/:uuid/cancel', async (req, res) => {
    res.json(await cancellation.cancelPreduplet(validate(uuidPath, req.params, 'path').uuid, principalOf(res)));
  });
  return router;
}
