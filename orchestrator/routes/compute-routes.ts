import { Router } from 'express';
import { principalOf, requireRole } from '../../shared/http/authenticate';
import { validate } from '../../shared/http/validate';
import type { UpletKind } from '../domain/documents';
import type { WorkLeases, WorkReport } from '../work/work-leases';
import type { CapabilityIssuer } from '../work/task-capabilities';
import { kindPath, leaseBody, learndoneBody, preddoneBody, uuidPath, workerBody } from './request-schemas';
import { publicDocument } from './public-document';

/** The compute nodes' calls: claim, heartbeat, release, and the two reports. */
export function computeRoutes(leases: WorkLeases, issueCapability: CapabilityIssuer): Router {
  const router = Router();
  router.use(['/worker', '/learndone', '/preddone'], requireRole('compute'));

  router.post('/worker/:kind/:uuid', async (req, res) => {
    const { kind, uuid } = validate(kindPath, req.params, 'path') as { kind: UpletKind; uuid: string };
    const { worker } = validate(workerBody, req.body, 'body');
    const grant = await leases.claim(kind, uuid, worker, principalOf(res));
    // The seed's key carries the uuid; the document and the lease travel beside it.
    res.json({
      [`${kind}_worker_set`]: grant.uplet.uuid,
      [kind]: publicDocument(grant.uplet),
      lease: {
        token: grant.lease_token, attempt: grant.attempt, expires_at: grant.lease_expires_at,
        // Opens this task's data blobs and authorises writing its outputs, nothing else, until the lease expires.
        capability: issueCapability(grant.lease), writes: grant.lease.writes ?? [],
      },
    });
  });

  router.post('/worker/:kind/:uuid/heartbeat', async (req, res) => {
    const { kind, uuid } = validate(kindPath, req.params, 'path') as { kind: UpletKind; uuid: string };
    const { lease_token } = validate(leaseBody, req.body, 'body');
    const lease = await leases.heartbeat(kind, uuid, lease_token, principalOf(res));
    // A fresh capability with the extended lease: the claim's expires with the lease it came with.
    res.json({ lease: { attempt: lease.attempt, expires_at: lease.expires_at, capability: issueCapability(lease), writes: lease.writes ?? [] } });
  });

  router.post('/worker/:kind/:uuid/release', async (req, res) => {
    const { kind, uuid } = validate(kindPath, req.params, 'path') as { kind: UpletKind; uuid: string };
    const { lease_token } = validate(leaseBody, req.body, 'body');
    const released = await leases.release(kind, uuid, lease_token, principalOf(res));
    res.json({ [`released_${kind}`]: released.uuid, [kind]: publicDocument(released) });
  });

  router.post('/learndone/:uuid', async (req, res) => {
    const { uuid } = validate(uuidPath, req.params, 'path');
    const report = validate(learndoneBody, req.body, 'body') as WorkReport;
    const updated = await leases.report('learnuplet', uuid, report, principalOf(res));
    res.json({ updated_learnuplet: updated.uuid, learnuplet: publicDocument(updated) });
  });

  router.post('/preddone/:uuid', async (req, res) => {
    const { uuid } = validate(uuidPath, req.params, 'path');
    const report = validate(preddoneBody, req.body, 'body') as WorkReport;
    const updated = await leases.report('preduplet', uuid, report, principalOf(res));
    res.json({ updated_preduplet: updated.uuid, preduplet: publicDocument(updated) });
  });

  return router;
}
