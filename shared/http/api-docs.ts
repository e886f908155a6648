import express, { Router } from 'express';
import path from 'node:path';
import type { OpenApiDocument } from '../openapi/openapi-document';

/** swagger-ui-dist's files, served from node_modules: the docs page works offline. */
function swaggerUiDir(): string {
  return path.dirname(require.resolve('swagger-ui-dist/package.json'));
}

/**
 * `GET /openapi.json` (the service's OpenAPI 3.1 description) and `GET /docs`
 * (a readable page of it), both without a key: a description names no data.
 */
export function apiDocsRoutes(doc: OpenApiDocument): Router {
  const router = Router();
  const body = JSON.stringify(doc);
  router.get('/openapi.json', (_req, res) => void res.type('application/json').set('Cache-Control', 'no-cache').send(body));
  router.get('/docs', (req, res, next) => {
    // The page loads its assets relatively: /docs must end with a slash.
    if (!req.originalUrl.split('?')[0]!.endsWith('/')) return void res.redirect(301, `${req.baseUrl}/docs/`);
    next();
  });
  router.get('/docs/', (_req, res) => void res.type('html').set('Content-Security-Policy', DOCS_CSP).send(docsPage(doc.info.title)));
  router.get('/docs/init.js', (_req, res) => void res.type('application/javascript').send(INIT_JS));
  router.use('/docs', express.static(swaggerUiDir(), { index: false, fallthrough: false }));
  return router;
}

const DOCS_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'";

const INIT_JS = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: new URL('../openapi.json', window.location.href).toString(), dom_id: '#swagger-ui', deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout', validatorUrl: null });
});
`;

function docsPage(title: string): string {
  const t = title.replace(/[<>&"]/g, '');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${t} — API docs</title>
<link rel="stylesheet" href="swagger-ui.css"></head>
<body><main id="swagger-ui"></main>
<script src="swagger-ui-bundle.js"></script>
<script src="swagger-ui-standalone-preset.js"></script>
<script src="init.js"></script>
</body></html>
`;
}
