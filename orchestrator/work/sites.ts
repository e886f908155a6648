import { ConfigError } from '../../shared/errors/uplet-error';
import { DEFAULT_SITE, isSiteName } from '../../shared/contracts/sites';
import type { Logger } from '../../shared/logging/logger';
import type { Collections } from '../persistence/collections';

export interface SiteConfig {
  gateway_url: string;
}

/**
 * The sites an orchestrator knows, from configuration: `SITES` JSON `{"<site>": {"gateway_url":
 * "…"}}`, with `default` at `STORAGE_URL` unless `SITES` names it. A site is a name and its
 * gateway; data may be registered only at a site listed here.
 */
export function parseSites(raw: string | undefined, storageUrl: string): Map<string, SiteConfig> {
  const sites = new Map<string, SiteConfig>();
  let parsed: unknown = {};
  if (raw !== undefined && raw.trim() !== '') {
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      throw new ConfigError([`SITES: is not valid JSON (${(err as Error).message})`]);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigError(['SITES: must be a JSON object {"<site>": {"gateway_url": "http://…"}}']);
  const problems: string[] = [];
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    const label: string = name; // kept as text: the type guard below narrows `name` away when it fails
    if (!isSiteName(name)) problems.push(`SITES.${label}: is not a site name (1-32 of a-z, 0-9, "-", "_", starting with a letter or digit)`);
    const url = (value as { gateway_url?: unknown } | null)?.gateway_url;
    if (typeof url !== 'string' || !/^https?:\/\/[^\s]+$/.test(url)) problems.push(`SITES.${name}.gateway_url: must be an http(s) URL`);
    else sites.set(name, { gateway_url: url.replace(/\/+$/, '') });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (!sites.has(DEFAULT_SITE)) sites.set(DEFAULT_SITE, { gateway_url: storageUrl.replace(/\/+$/, '') });
  return sites;
}

export interface LiveAgent {
  name: string;
  last_seen: Date;
}

/**
 * The sites and the liveness of their agents. An agent is live while it has pinged or claimed
 * within 3 × HEARTBEAT_INTERVAL_MS; "last seen" is kept in its own documents (`agents`,
 * `<site>/<name>`), never on task documents, and written at most once per interval per agent.
 */
export class Sites {
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly c: Collections,
    private readonly config: ReadonlyMap<string, SiteConfig>,
    private readonly heartbeatMs: number,
    private readonly logger?: Logger,
  ) {}

  names(): string[] {
    return [...this.config.keys()];
  }

  has(site: string): boolean {
    return this.config.has(site);
  }

  gatewayOf(site: string): string | undefined {
    return this.config.get(site)?.gateway_url;
  }

  get liveWithinMs(): number {
    return 3 * this.heartbeatMs;
  }

  /** Records that an agent was seen (a ping or a claim); throttled to one write per half interval. */
  async seen(site: string, name: string, principal: string): Promise<void> {
    const id = `${site}/${name}`;
    const now = Date.now();
    if ((this.recent.get(id) ?? 0) > now - this.heartbeatMs / 2) return;
    this.recent.set(id, now);
    if (this.recent.size > 10_000) this.recent.clear();
    await this.c.agents.updateOne({ _id: id }, { $set: { site, name, principal, last_seen: new Date(now) } }, { upsert: true }).catch((err: Error) => {
      this.recent.delete(id);
      this.logger?.debug('could not record an agent as seen', { site, name, error: err.message });
    });
  }

  /** The live agents of a site (one equality read of that site's agents). */
  async liveAgents(site: string): Promise<LiveAgent[]> {
    const since = Date.now() - this.liveWithinMs;
    const agents = await this.c.agents.find({ site }).toArray();
    return agents
      .filter((a) => a.last_seen.getTime() >= since)
      .map((a) => ({ name: a.name, last_seen: a.last_seen }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async list(): Promise<Array<{ name: string; gateway_url: string; live_agents: LiveAgent[] }>> {
    return Promise.all(this.names().map(async (name) => ({ name, gateway_url: this.gatewayOf(name)!, live_agents: await this.liveAgents(name) })));
  }
}
