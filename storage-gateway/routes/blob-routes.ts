import { Router, type Request, type Response } from 'express';
import Joi from 'joi';
import { pipeline } from 'node:stream/promises';
import { identifier } from '../../shared/contracts/identifiers';
import { mediaType, servedMediaType } from '../../shared/contracts/media-type';
import { ForbiddenError, NotFoundError, PayloadTooLargeError, RangeNotSatisfiableError, ValidationError } from '../../shared/errors/uplet-error';
import { principalOf } from '../../shared/http/authenticate';
import { validate } from '../../shared/http/validate';
import { BLOB_KINDS, OUTPUT_KINDS, type BlobKind, type BlobMeta, type BlobStore, type ByteRange, type WrittenUnder } from '../blob-store/blob-store';
import { mayEverRead, mayRead, mayUpload, mayUploadUnderLease } from '../access/blob-permissions';
import { CAPABILITY_HEADER, checkCapability, verifiedPayload } from '../../shared/auth/capability-token';
import { SiteForbiddenError, UpletError } from '../../shared/errors/uplet-error';
import type { AccessLog } from '../access/access-log';

export interface GatewaySite {
  /** This gateway's site: its data blobs are served only to tasks of this site. */
  site: string;
  accessLog?: AccessLog;
}

const blobPath = Joi.object({
  kind: Joi.string()
    .valid(...BLOB_KINDS)
    .required(),
  uuid: identifier().required(),
});
const uploadHeaders = Joi.object({
  'x-content-sha256': Joi.string().hex().length(64),
  'x-uplet-readers': Joi.string()
    .max(2_000)
    .pattern(/^[\x20-\x7e]*$/),
  'content-type': mediaType(),
}).unknown(true);

/**
 * A client may send the sha256 as an HTTP trailer (announced by `Trailer: X-Content-SHA256`)
 * instead of a header: it hashes as it sends, so it reads the file once instead of twice.
 */
function announcesDigestTrailer(req: Request): boolean {
  return (req.headers.trailer ?? '').split(',').some((name) => name.trim().toLowerCase() === 'x-content-sha256');
}

/** The announced digest trailer, read once the body has arrived: absent or malformed → 400, nothing stored. */
function digestTrailer(req: Request): string {
  const value = req.trailers['x-content-sha256'];
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{64}$/.test(value)) {
    throw new ValidationError('the X-Content-SHA256 trailer announced in the Trailer header must be sent after the body, as 64 hex digits', {
      details: { where: 'trailer', field: 'x-content-sha256' },
    });
  }
  return value;
}

/** PUT, GET, HEAD of /blobs/{kind}/{uuid}, and its metadata at /blobs/{kind}/{uuid}/meta. */
export function blobRoutes(store: BlobStore, maxBlobBytes: number, capabilitySecret: string, gateway: GatewaySite = { site: 'default' }): Router {
  const router = Router();
  /** One access-log line per read or write, granted or refused. */
  const logged = async <T>(action: 'read' | 'write', req: Request, res: Response, work: () => Promise<T>): Promise<T> => {
    const header = req.headers[CAPABILITY_HEADER];
    const cap = verifiedPayload(typeof header === 'string' ? header : undefined, capabilitySecret);
    const entry = {
      gateway_site: gateway.site,
      action,
      kind: String(req.params.kind),
      uuid: String(req.params.uuid),
      principal: res.locals.principal?.name ?? '?',
      ...(cap ? { capability_site: cap.site ?? 'default', uplet: cap.uplet, ...(cap.attempt !== undefined ? { attempt: cap.attempt } : {}) } : {}),
    };
    try {
      const out = await work();
      gateway.accessLog?.record({ ...entry, status: res.statusCode });
      return out;
    } catch (err) {
      gateway.accessLog?.record({ ...entry, status: err instanceof UpletError ? err.httpStatus : 500, reason: (err as Error).message.slice(0, 300) });
      throw err;
    }
  };

  router.put('/blobs/:kind/:uuid', async (req, res) =>
    logged('write', req, res, async () => {
      const { kind, uuid } = validate(blobPath, req.params, 'path') as { kind: BlobKind; uuid: string };
      const principal = principalOf(res);
      const underLease = mayUploadUnderLease(principal, kind);
      if (!mayUpload(principal, kind) && !underLease) throw new ForbiddenError(`your role may not upload ${kind} blobs`);
      const headers = validate(uploadHeaders, req.headers, 'header') as Record<string, string | undefined>;
      let writtenUnder: WrittenUnder | undefined;
      try {
        writtenUnder = OUTPUT_KINDS.includes(kind) || underLease ? outputLease(req, kind, uuid, principal.name, capabilitySecret) : undefined;
      } catch (err) {
        // The refused body is not read: close the connection after answering.
        res.set('Connection', 'close');
        throw err;
      }
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBlobBytes) {
        res.set('Connection', 'close');
        throw new PayloadTooLargeError(`Content-Length ${declared} is over the limit of ${maxBlobBytes} bytes`, {
          details: { where: 'header', field: 'content-length' },
        });
      }
      const readers = (headers['x-uplet-readers'] ?? '')
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean);
      try {
        const { meta, created } = await store.put(kind, uuid, req, {
          owner: principal.name,
          contentType: headers['content-type'] ?? 'application/octet-stream',
          readers,
          maxBytes: maxBlobBytes,
          ...(headers['x-content-sha256']
            ? { expectedSha256: headers['x-content-sha256'] }
            : announcesDigestTrailer(req)
              ? { expectedSha256: () => digestTrailer(req) }
              : {}),
          ...(writtenUnder ? { writtenUnder } : {}),
        });
        res.status(created ? 201 : 200).json(meta);
      } catch (err) {
        // The rest of an oversize or refused body is not read: close the connection after answering.
        if (!req.complete) res.set('Connection', 'close');
        throw err;
      }
    }),
  );

  router.get('/blobs/:kind/:uuid/meta', async (req, res) => {
    const meta = await readableBlob(store, req, res, capabilitySecret, gateway.site);
    res.json(meta);
  });

  router.head('/blobs/:kind/:uuid', async (req, res) => {
    const meta = await readableBlob(store, req, res, capabilitySecret, gateway.site);
    setBlobHeaders(res, meta);
    res.set('Content-Length', String(meta.size)).status(200).end();
  });

  router.get('/blobs/:kind/:uuid', async (req, res) => {
    const meta = await logged('read', req, res, () => readableBlob(store, req, res, capabilitySecret, gateway.site));
    setBlobHeaders(res, meta);
    const range = parseRange(req.headers.range, meta.size, res);
    if (range) {
      res.status(206).set({ 'Content-Range': `bytes ${range.start}-${range.end}/${meta.size}`, 'Content-Length': String(range.end - range.start + 1) });
    } else {
      res.status(200).set('Content-Length', String(meta.size));
    }
    if (meta.size === 0 || (range && range.end < range.start)) return void res.end();
    await pipeline(store.open(meta, range), res).catch(() => res.destroy());
  });

  return router;
}

/**
 * A task output (model, prediction) is written only with the capability of a
 * lease of the task that produces it, so nobody can plant a result before it is
 * computed; the lease is recorded on the blob, which is what an agent checks
 * before it adopts an output it finds already stored.
 */
function outputLease(req: Request, kind: BlobKind, uuid: string, principal: string, capabilitySecret: string): WrittenUnder {
  const header = req.headers[CAPABILITY_HEADER];
  const check = checkCapability(typeof header === 'string' ? header : undefined, capabilitySecret, principal, `${kind}/${uuid}`, 'write');
  if (!check.ok) throw new ForbiddenError(`${kind} blob ${uuid}: ${check.reason}`, { details: { where: 'header', field: CAPABILITY_HEADER } });
  const p = check.payload;
  return { kind: String(p.kind ?? ''), uplet: p.uplet, attempt: Number(p.attempt ?? 0), principal };
}

async function readableBlob(store: BlobStore, req: Request, res: Response, capabilitySecret: string, site: string): Promise<BlobMeta> {
  const { kind, uuid } = validate(blobPath, req.params, 'path') as { kind: BlobKind; uuid: string };
  const principal = principalOf(res);
  // A role that can never read the kind is refused before the lookup, so it learns nothing of what exists.
  if (!mayEverRead(principal, kind)) throw new ForbiddenError(`your role may not read ${kind} blobs`);
  if (kind === 'data') {
    // Data opens only to the compute node holding a task that needs it.
    const header = req.headers[CAPABILITY_HEADER];
    const check = checkCapability(typeof header === 'string' ? header : undefined, capabilitySecret, principal.name, `data/${uuid}`);
    if (!check.ok) throw new ForbiddenError(`data blob ${uuid}: ${check.reason}`, { details: { where: 'header', field: CAPABILITY_HEADER } });
    // Data stays at its site: served only to tasks of this gateway's site, except what the
    // capability marks readable anywhere (the problem's test data, the organizer's evaluation set).
    const capabilitySite = check.payload.site ?? 'default';
    if (capabilitySite !== site && !(check.payload.anywhere ?? []).includes(`data/${uuid}`)) {
      throw new SiteForbiddenError(`data blob ${uuid} is held at site ${site}; it is not served to a task of site ${capabilitySite}`, {
        code: 'WRONG_SITE',
        details: { where: 'header', field: CAPABILITY_HEADER, gateway_site: site, capability_site: capabilitySite },
      });
    }
  }
  const meta = await store.stat(kind, uuid);
  if (!meta) throw new NotFoundError(`${kind} blob ${uuid} does not exist`, { details: { where: 'path', field: 'uuid' } });
  if (!mayRead(principal, meta)) throw new ForbiddenError(`you may not read ${kind} blob ${uuid}`);
  return meta;
}

function setBlobHeaders(res: Response, meta: BlobMeta): void {
  // Downloads are files, never pages: no sniffing, no inline rendering, no active types.
  res.set({
    'Content-Type': servedMediaType(meta.content_type),
    'X-Content-Type-Options': 'nosniff',
    'Content-Disposition': `attachment; filename="${meta.uuid}"`,
    ETag: `"${meta.sha256}"`,
    'Accept-Ranges': 'bytes',
    'X-Content-SHA256': meta.sha256,
    'Cache-Control': 'private, no-store',
  });
}

/** One range of `bytes=a-b`, `a-` or `-n`; a range the blob cannot satisfy is 416. */
function parseRange(header: string | undefined, size: number, res: Response): ByteRange | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const unsatisfiable = () => {
    res.set('Content-Range', `bytes */${size}`);
    return new RangeNotSatisfiableError(`range ${header} cannot be served from ${size} bytes`);
  };
  if (!m || (m[1] === '' && m[2] === '')) throw unsatisfiable();
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw unsatisfiable();
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) throw unsatisfiable();
  return { start, end };
}
