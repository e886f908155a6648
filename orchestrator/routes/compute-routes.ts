import { Router } from 'express';
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

/** One call of the compute protocol, as its transport received it (express, or the fast lane beside it). */
export interface ComputeCallInput {
  /** The path's parameters, decoded: `kind` and `uuid` (only `uuid` on /learndone and /preddone). */
  params: Record<string, string>;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  principal: Principal;
}

export type ComputeCall = (input: ComputeCallInput) => Promise<unknown>;

/** The calls' routes, as express names them (also the `route` label of the requests metric). */
export const COMPUTE_ROUTES = {
  claim: '/worker/:kind/:uuid',
  heartbeat: '/worker/:kind/:uuid/heartbeat',
  release: '/worker/:kind/:uuid/release',
  report: '/worker/:kind/:uuid/report',
  learndone: '/learndone/:uuid',
  preddone: '/preddone/:uuid',
} as const;

export type ComputeRoute = keyof typeof COMPUTE_ROUTES;

/** The role every compute call needs. */
export const COMPUTE_ROLE = 'compute';

/**
 * The compute nodes' calls for every task kind: claim, heartbeat, release, report (shapes in
 * shared/contracts/work-contract.ts), whatever carries them: each validates its input and
 * answers the JSON body of a 200. The caller has authenticated the key and checked the role.
 */
export function computeCalls(leases: WorkLeases, issueCapability: CapabilityIssuer, sites?: Sites): Readonly<Record<ComputeRoute, ComputeCall>> {
  const report = async (kind: TaskKind, uuid: string, body: unknown, principal: Principal) => {
    const updated = await leases.report(kind, uuid, validate(reportBodies[kind], body, 'body') as WorkReport, principal);
    return { [reportAnswerKey(kind)]: updated.uuid, [kind]: publicDocument(updated) };
  };
  const kindAndUuid = (params: Record<string, string>) => validate(kindPath, params, 'path') as { kind: TaskKind; uuid: string };
  return {
    claim: async ({ params, body, headers, principal }) => {
      const { kind, uuid } = kindAndUuid(params);
      const { worker, site: bodySite } = validate(workerBody, body, 'body') as { worker: string; site?: string };
      const header = headers[SITE_HEADER];
      if (header !== undefined && !isSiteName(header))
        throw new ValidationError(`${SITE_HEADER} must be a site name`, { details: { where: 'header', field: SITE_HEADER } });
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
      return {
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
      };
    },
    heartbeat: async ({ params, body, principal }) => {
      const { kind, uuid } = kindAndUuid(params);
      const { lease_token } = validate(leaseBody, body, 'body');
      const lease = await leases.heartbeat(kind, uuid, lease_token, principal);
      // A fresh capability with the extended lease: the claim's expires with the lease it came with.
      return { lease: { attempt: lease.attempt, expires_at: lease.expires_at, capability: issueCapability(lease), writes: lease.writes ?? [] } };
    },
    release: async ({ params, body, principal }) => {
      const { kind, uuid } = kindAndUuid(params);
      const { lease_token } = validate(leaseBody, body, 'body');
      const released = await leases.release(kind, uuid, lease_token, principal);
      return { [`released_${kind}`]: released.uuid, [kind]: publicDocument(released) };
    },
    // The seed's report paths, and the same report for any kind at /worker/{kind}/{uuid}/report.
    report: async ({ params, body, principal }) => {
      const { kind, uuid } = kindAndUuid(params);
      return report(kind, uuid, body, principal);
    },
    learndone: async ({ params, body, principal }) => report('learnuplet', validate(uuidPath, params, 'path').uuid, body, principal),
    preddone: async ({ params, body, principal }) => report('preduplet', validate(uuidPath, params, 'path').uuid, body, principal),
  };
}

/** The compute calls as express routes (the fast lane, compute-fast-lane.ts, serves the usual requests before these). */
export function computeRoutes(leases: WorkLeases, issueCapability: CapabilityIssuer, sites?: Sites): Router {
  const router = Router();
  router.use(['/worker', '/learndone', '/preddone'], requireRole(COMPUTE_ROLE));
  const calls = computeCalls(leases, issueCapability, sites);
  for (const [name, route] of Object.entries(COMPUTE_ROUTES) as Array<[ComputeRoute, string]>) {
    router.post(route, async (req, res) => {
      res.json(await calls[name]({ params: req.params as Record<string, string>, body: req.body, headers: req.headers, principal: principalOf(res) }));
    });
  }
  return router;
}
