import { Router } from 'express';
import Joi from 'joi';
import { principalOf, requireRole } from '../../shared/http/authenticate';
import { validate } from '../../shared/http/validate';
import { siteName } from '../../shared/contracts/sites';
import { printableAscii } from '../../shared/contracts/text';
import { NotFoundError } from '../../shared/errors/uplet-error';
import type { Sites } from '../work/sites';
import { agentSite } from './compute-routes';

const agentPath = Joi.object({ site: siteName().required(), name: printableAscii().min(1).max(200).required() });

/**
 * GET /sites: every site, its gateway and its live agents. POST /sites/{site}/agents/{name}:
 * an agent's periodic ping (every HEARTBEAT_INTERVAL_MS); it is live while seen within 3 × that.
 */
export function siteRoutes(sites: Sites): Router {
  const router = Router();
  router.get('/sites', async (_req, res) => {
    res.json({ sites: await sites.list(), live_within_ms: sites.liveWithinMs });
  });
  router.post('/sites/:site/agents/:name', requireRole('compute'), async (req, res) => {
    const { site, name } = validate(agentPath, req.params, 'path') as { site: string; name: string };
    if (!sites.has(site)) throw new NotFoundError(`site ${site} is not a site of this deployment`, { details: { where: 'path', field: 'site' } });
    const principal = principalOf(res);
    agentSite(site, principal);
    await sites.seen(site, name, principal.name);
    res.json({ site, name, live_within_ms: sites.liveWithinMs });
  });
  return router;
}
