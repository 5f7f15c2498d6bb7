// The interactive API reference (/docs): Swagger UI from the swagger-ui-dist package, served by
// us under /docs/assets/, rendering our own /openapi.json. A file, not an inline script: the page's
// Content-Security-Policy allows scripts from this origin only. Without JavaScript the page shows
// its <noscript> table of operations instead.
'use strict';
window.addEventListener('DOMContentLoaded', () => {
  const root = document.getElementById('swagger-ui');
  if (!root || typeof window.SwaggerUIBundle !== 'function') return;
  window.SwaggerUIBundle({
    url: '/openapi.json',
    domNode: root,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    // no call to the public validator service (and the CSP would refuse it anyway)
    validatorUrl: null,
    // credentials typed into "Authorize" stay in this page's memory, never in storage or the URL
    persistAuthorization: false,
    tryItOutEnabled: false,
  });
});
