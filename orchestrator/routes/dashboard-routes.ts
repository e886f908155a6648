import express, { Router } from 'express';
import fs from 'node:fs';
import path from 'node:path';

/** The dashboard's static files: next to this folder in the sources, and the same files when run from dist/. */
function dashboardDir(): string {
  const candidates = [path.join(__dirname, '../dashboard'), path.join(__dirname, '../../../orchestrator/dashboard')];
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'index.html')));
  if (!found) throw new Error(`the dashboard's files are missing (looked in ${candidates.join(', ')})`);
  return found;
}

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/**
 * GET /dashboard: a read-only web page over the same API (the key is typed in
 * and kept in the tab's sessionStorage), and Chart.js from node_modules, so it
 * works offline. Served without a key: the page holds no data, the API calls do.
 */
export function dashboardRoutes(): Router {
  const router = Router();
  const dir = dashboardDir();
  // chart.js exports no subpaths: its UMD build sits beside the main file.
  const chartJs = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
  router.use('/dashboard', (req, res, next) => {
    res.set({ 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'Cache-Control': 'no-cache' });
    if (req.path === '/' && !req.originalUrl.split('?')[0]!.endsWith('/')) return void res.redirect(301, '/dashboard/');
    next();
  });
  router.get('/dashboard/vendor/chart.umd.min.js', (_req, res) => void res.sendFile(chartJs));
  router.use('/dashboard', express.static(dir, { index: 'index.html', fallthrough: true }));
  return router;
}
