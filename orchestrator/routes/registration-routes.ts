import { Router } from 'express';
import { principalOf, requireRole } from '../../shared/http/authenticate';
import { validate } from '../../shared/http/validate';
import type { Registration } from '../work/registration';
import { algoBody, asList, dataBody, predictionBody, problemBody } from './request-schemas';
import { publicDocument } from './public-document';

/** POST /problem, /algo, /data (by their roles) and /prediction (any user but a compute node). */
export function registrationRoutes(registration: Registration): Router {
  const router = Router();

  router.post('/problem', requireRole('organizer'), async (req, res) => {
    const body = validate(problemBody, req.body, 'body');
    const problem = await registration.postProblem(body, principalOf(res));
    res.status(201).json({ new_problem: publicDocument(problem) });
  });

  router.post('/algo', requireRole('algo-author'), async (req, res) => {
    const body = validate(algoBody, req.body, 'body');
    const { algo, newLearnuplets } = await registration.postAlgo(body, principalOf(res));
    res.status(201).json({ new_algo: publicDocument(algo), new_learnuplets: newLearnuplets });
  });

  router.post('/data', requireRole('data-provider'), async (req, res) => {
    const body = validate(dataBody, req.body, 'body');
    const { datas, newLearnuplets, changed } = await registration.postData(
      { uuids: asList(body.uuid), problems: asList(body.problems), ...(body.site ? { site: body.site as string } : {}) },
      principalOf(res),
    );
    // The same data and problems again is not an error, and creates nothing: 200.
    res.status(changed ? 201 : 200).json({ new_datas: datas.map(publicDocument), new_learnuplets: newLearnuplets });
  });

  // Compute nodes run predictions; they do not request them (a request names data its capability would open).
  router.post('/prediction', requireRole('organizer', 'data-provider', 'algo-author'), async (req, res) => {
    const body = validate(predictionBody, req.body, 'body');
    // With a problem's best model (the seed's), or with a training-engine model by its id.
    const preduplets = body.model
      ? await registration.requestModelPrediction({ data: asList(body.data), model: body.model }, principalOf(res))
      : await registration.requestPrediction({ data: asList(body.data), problem: body.problem }, principalOf(res));
    res.status(201).json({ new_preduplets: preduplets.length, preduplets: preduplets.map((p) => p.uuid) });
  });

  return router;
}
