import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { OpenApiDocument } from '../../shared/openapi/openapi-document';
import { orchestratorOpenApi } from '../../orchestrator/routes/openapi';
import { storageOpenApi } from '../../storage-gateway/routes/openapi';

/**
 * Checks answers against a service's OpenAPI description with Ajv (JSON Schema
 * 2020-12, what OpenAPI 3.1 schemas are): the status must be described for the
 * operation, and a JSON body must match the schema of that status. A path the
 * description does not know must be the API's 404 refusal. Mismatches are
 * collected; the jest setup file fails the test that met them.
 */
export interface Mismatch {
  service: string;
  method: string;
  path: string;
  status: number;
  problem: string;
}

interface Route {
  template: string;
  regex: RegExp;
  literalSegments: number;
}

export class ResponseChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  private readonly routes: Route[];
  private readonly cache = new Map<string, ValidateFunction>();
  private readonly id: string;

  constructor(
    readonly service: string,
    private readonly doc: OpenApiDocument,
  ) {
    addFormats(this.ajv);
    this.id = `urn:uplet:openapi:${service}`;
    this.ajv.addSchema({ ...doc, $id: this.id });
    this.routes = Object.keys(doc.paths)
      .map((template) => ({
        template,
        regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
        literalSegments: template.split('/').filter((s) => s && !s.startsWith('{')).length,
      }))
      .sort((a, b) => b.literalSegments - a.literalSegments);
  }

  /** Compiles every response schema once: a description that Ajv cannot compile fails here. */
  compileAll(): number {
    let n = 0;
    for (const [template, item] of Object.entries(this.doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const status of Object.keys(op.responses)) if (this.validatorFor(template, method, status)) n++;
      }
    }
    return n;
  }

  check(method: string, rawPath: string, status: number, body: unknown, contentType: string | null): string[] {
    const path = rawPath.split('?')[0]!;
    const m = method.toLowerCase();
    const route = this.routes.find((r) => r.regex.test(path));
    const op = route ? (this.doc.paths[route.template] as Record<string, { responses: Record<string, unknown> }>)[m] : undefined;
    if (!route || !op) {
      // Not described: it must be the API's "no route" refusal.
      if (status !== 404) return [`${method} ${path} answered ${status} but is not in the description (add it to the service's routes/openapi fragments)`];
      return this.validate(this.ajv.getSchema(`${this.id}#/components/schemas/Error`)!, body, `${method} ${path} 404`);
    }
    const key = String(status) in op.responses ? String(status) : 'default' in op.responses ? 'default' : undefined;
    if (!key) return [`${method} ${route.template} answered ${status}, which the description does not list (it lists ${Object.keys(op.responses).join(', ')})`];
    if (m === 'head') return [];
    const validator = this.validatorFor(route.template, m, key);
    if (!validator) return []; // not a JSON answer (a blob, metrics)
    if (contentType !== null && !/json/.test(contentType)) return [`${method} ${route.template} ${status}: described as JSON, answered ${contentType}`];
    return this.validate(validator, body, `${method} ${route.template} ${status}`);
  }

  private validate(v: ValidateFunction, body: unknown, what: string): string[] {
    if (v(body)) return [];
    return (v.errors ?? [])
      .slice(0, 5)
      .map((e) => `${what}: body${e.instancePath} ${e.message ?? ''}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`);
  }

  private validatorFor(template: string, method: string, status: string): ValidateFunction | undefined {
    const key = `${method} ${template} ${status}`;
    if (this.cache.has(key)) return this.cache.get(key);
    const op = (this.doc.paths[template] as Record<string, { responses: Record<string, { $ref?: string; content?: Record<string, unknown> }> }>)[method]!;
    let response = op.responses[status]!;
    let pointer = `#/paths/${escape(template)}/${method}/responses/${status}`;
    if (response.$ref) {
      pointer = response.$ref;
      response = pointer
        .split('/')
        .slice(1)
        .reduce<any>((o, k) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], this.doc);
    }
    const validator = response.content?.['application/json'] ? this.ajv.compile({ $ref: `${this.id}${pointer}/content/application~1json/schema` }) : undefined;
    if (validator) this.cache.set(key, validator);
    return validator;
  }
}

const escape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

const checkers: Record<string, () => ResponseChecker> = {};
let orchestrator: ResponseChecker | undefined;
let storage: ResponseChecker | undefined;
checkers.orchestrator = () => (orchestrator ??= new ResponseChecker('orchestrator', orchestratorOpenApi()));
checkers.storage = () => (storage ??= new ResponseChecker('storage', storageOpenApi()));

/** Which service answers at which base URL (the fixtures register theirs). */
const services = new Map<string, 'orchestrator' | 'storage'>();
const mismatches: Mismatch[] = [];

export function registerService(baseUrl: string, service: 'orchestrator' | 'storage'): void {
  services.set(baseUrl.replace(/\/$/, ''), service);
}

/** Records any mismatch of an answer from a registered service; answers from elsewhere are not checked. */
export function recordResponse(baseUrl: string, method: string, path: string, status: number, body: unknown, contentType: string | null): void {
  const service = services.get(baseUrl.replace(/\/$/, ''));
  if (!service) return;
  for (const problem of checkers[service]!().check(method, path, status, body, contentType)) mismatches.push({ service, method, path, status, problem });
}

/** The mismatches seen since the last call, and forgets them. */
export function takeMismatches(): Mismatch[] {
  return mismatches.splice(0, mismatches.length);
}

export function checkerFor(service: 'orchestrator' | 'storage'): ResponseChecker {
  return checkers[service]!();
}
