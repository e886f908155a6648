import { ConfigError } from '../../shared/errors/uplet-error';

/**
 * Which teacher URLs may receive a site's training rows (`teacher_predict_url` sends them off
 * the site). TEACHER_URL_ALLOWLIST is JSON `{"<site>": ["https://teacher.example/predict", …]}`:
 * a URL is allowed for a dataset of that site when it starts with one of the prefixes. Unset or
 * `{}`: no URL is allowed anywhere. Checked at start-up (ConfigError naming what is wrong).
 */
export type TeacherAllowlist = Readonly<Record<string, readonly string[]>>;

export function parseTeacherAllowlist(raw: string | undefined): TeacherAllowlist {
  if (raw === undefined || raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new ConfigError([`TEACHER_URL_ALLOWLIST: not JSON (${(err as Error).message})`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigError(['TEACHER_URL_ALLOWLIST: must be a JSON object {site: [url prefixes]}']);
  const problems: string[] = [];
  const out: Record<string, string[]> = {};
  for (const [site, prefixes] of Object.entries(parsed as Record<string, unknown>)) {
    if (!Array.isArray(prefixes)) {
      problems.push(`TEACHER_URL_ALLOWLIST.${site}: must be a list of URL prefixes`);
      continue;
    }
    out[site] = [];
    prefixes.forEach((p, i) => {
      let ok = false;
      try {
        const u = new URL(String(p));
        ok = typeof p === 'string' && (u.protocol === 'http:' || u.protocol === 'https:');
      } catch {
        /* reported below */
      }
      if (ok) out[site]!.push(p as string);
      else problems.push(`TEACHER_URL_ALLOWLIST.${site}[${i}]: not an http(s) URL`);
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}

export function teacherUrlAllowed(list: TeacherAllowlist, site: string, url: string): boolean {
  return (list[site] ?? []).some((prefix) => url.startsWith(prefix));
}
