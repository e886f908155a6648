import { Router, type Response } from 'express';
import { claimAnswerKey, reportAnswerKey } from '../../shared/contracts/work-contract';
import { principalOf, requireRole } from '../../shared/http/authenticate';
import { validate } from '../../shared/http/validate';
import type { TaskKind } from '../domain/documents';
import type { WorkLeases, WorkReport } from '../work/work-leases';
import type { CapabilityIssuer } from '../work/task-capabilities';
import { kindPath, leaseBody, reportBodies, uuidPath, workerBody } from './request-schemas';
import { publicDocument } from './public-document';
import type { Sites } from '../work/sites';
import type { Principal } from '../../shared/auth/api-keys';
import { DEFAULT_SITE, isSiteName, SITE_HEADER } from '../../shared/contracts/sites';
import { WORK_ERROR_CODES } from '../../shared/contracts/work-contract';
import { SiteForbiddenError, ValidationError } from '../../shared/errors/uplet-error';

/**
 * The site an agent works at: `site` in its body (or the X-Uplet-Site header), else its key's
 * site, else `default`. A key bound to a site may name no other (403).
 */
export function agentSite(named: string | undefined, principal: Principal): string {
  const site = named ?? principal.site ?? DEFAULT_SITE;
  if (principal.site !== undefined && principal.site !== site) {
    throw new SiteForbiddenError(`your key is bound to site ${principal.site}, not ${site}`, {
      code: WORK_ERROR_CODES.SITE_NOT_ALLOWED,
      details: { where: 'body', field: 'site' },
    });
  }
  return site;
}

/** The compute nodes' calls for every task kind: claim, heartbeat, release, report (shapes in shared/contracts/work-contract.ts). */
export function computeRoutes(leases: WorkLeases, issueCapability: CapabilityIssuer, sites?: Sites): Router {
  const router = Router();
  router.use(['/worker', '/learndone', '/preddone'], requireRole('compute'));

  router.post('/worker/:kind/:uuid', async (req, res) => {
    const { kind, uuid } = validate(kindPath, req.params, 'path') as { kind: TaskKind; uuid: string };
    const { worker, site: bodySite } = validate(workerBody, req.body, 'body') as { worker: string; site?: string };
    const header = req.headers[SITE_HEADER];
    if (header !== undefined && !isSiteName(header))
      throw new ValidationError(`${SITE_HEADER} must be a site name`, { details: { where: 'header', field: SITE_HEADER } });
    const principal = principalOf(res);
    const site = agentSite(bodySite ?? header, principal);
    // A claim is a sign of life, whatever its outcome.
    void sites?.seen(site, worker, principal.name);
    const grant = await leases.claim(kind, uuid, worker, principal, site);
    // Where each blob of the task lives: its data at this site's gateway, code and models where they were written.
    // `blob_sites` names the site of every blob; `blob_locations` the gateway URL of those held at another
    // site (the agent reads its own site's blobs from its own gateway, as it reaches it).
    const blob_sites = grant.locations;
    const blob_locations: Record<string, string> = {};
    for (const [blob, at] of Object.entries(blob_sites)) {
      const url = at === site ? undefined : sites?.gatewayOf(at);
      if (url) blob_locations[blob] = url;
    }
    // The seed's key carries the uuid; the document and the lease travel beside it.
    res.json({
      [claimAnswerKey(kind)]: grant.uplet.uuid,
      [kind]: publicDocument(grant.uplet),
      site,
      blob_sites,
      blob_locations,
      lease: {
        token: grant.lease_token,
        attempt: grant.attempt,
        expires_at: grant.lease_expires_at,
        // Opens this task's data blobs and authorises writing its outputs, nothing else, until the lease expires.
        capability: issueCapability(grant.lease),
        writes: grant.lease.writes ?? [],
      },
    });
  });

  router.post('/worker/:kind/:uuid/heartbeat', async (req, res) => {
    const { kind, uuid } = validate(kindPath, req.params, 'path') as { kind: TaskKind; uuid: string };
    const { lease_token } = validate(leaseBody, req.body, 'body');
    const lease = await leases.heartbeat(kind, uuid, lease_token, principalOf(res));
    // A fresh capability with the extended lease: the claim's expires with the lease it came with.
    res.json({ lease: { attempt: lease.attempt, expires_at: lease.expires_at, capability: issueCapability(lease), writes: lease.writes ?? [] } });
  });

  router.post('/worker/:kind/:uuid/release', async (req, res) => {
    const { kind, uuid } = validate(kindPath, req.params, 'path') as { kind: TaskKind; uuid: string };
    const { lease_token } = validate(leaseBody, req.body, 'body');
    const released = await leases.release(kind, uuid, lease_token, principalOf(res));
    res.json({ [`released_${kind}`]: released.uuid, [kind]: publicDocument(released) });
  });

  // The seed's report paths, and the same report for any kind at /worker/{kind}/{uuid}/report.
  const report = (kind: TaskKind, uuid: string, body: unknown, res: Response) => async () => {
    const updated = await leases.report(kind, uuid, validate(reportBodies[kind], body, 'body') as WorkReport, principalOf(res));
    res.json({ [reportAnswerKey(kind)]: updated.uuid, [kind]: publicDocument(updated) });
  };
  router.post('/learndone/:uuid', async (req, res) => report('learnuplet', validate(uuidPath, req.params, 'path').uuid, req.body, res)());
  router.post('/preddone/:uuid', async (req, res) => report('preduplet', validate(uuidPath, req.params, 'path').uuid, req.body, res)());
  router.post('/worker/:kind/:uuid/report', async (req, res) => {
    const { kind, uuid } = validate(kindPath, req.params, 'path') as { kind: TaskKind; uuid: string };
    await report(kind, uuid, req.body, res)();
  });

  return router;
}
