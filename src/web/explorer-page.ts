import type { ApolloServerPlugin } from '@apollo/server';
import { explorerFilesInstalled } from './dev-files';
import { EXPLORER_EXAMPLES } from './explorer-examples';

/**
 * The GraphQL explorer at GET /graphql (what a browser opens): GraphiQL, served with
 * React from the service's own files (/explorer/*), so that it works offline, unlike
 * Apollo's default landing page, which loads its Sandbox from a CDN. An "API key" field
 * sends `Authorization: Bearer <key>` with every request; the schema comes from
 * introspection (on outside production, like this page). Queries go out as POST with
 * a JSON body, which Apollo's CSRF prevention accepts.
 */
export function explorerLandingPage(): ApolloServerPlugin {
  const html = explorerFilesInstalled() ? explorerHtml() : MISSING_FILES_HTML;
  return {
    async serverWillStart() {
      return {
        async renderLandingPage() {
          return { html };
        },
      };
    },
  };
}

/** JSON inside <script>: no "</script>" or "<!--" can close or confuse it. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

function explorerHtml(): string {
  const tabs = EXPLORER_EXAMPLES.map(({ query, variables }) => ({
    query,
    variables: JSON.stringify(variables, null, 2),
  }));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>KMS · GraphQL explorer</title>
<link rel="stylesheet" href="/explorer/graphiql.min.css">
<style>
  html, body { height: 100%; margin: 0; }
  body { display: flex; flex-direction: column; font-family: system-ui, sans-serif; }
  #bar { display: flex; gap: 1rem; align-items: center; padding: 0.4rem 1rem; border-bottom: 1px solid #ddd; font-size: 14px; }
  #bar input { width: 28rem; font-family: monospace; }
  #graphiql { flex: 1; min-height: 0; }
</style>
</head>
<body>
<div id="bar">
  <strong>Key Management Service</strong>
  <label>API key <input id="api-key" type="password" autocomplete="off" spellcheck="false"
    placeholder="kms_… (sent as Authorization: Bearer); empty: anonymous client"></label>
  <a href="/demo">device demo</a>
</div>
<div id="graphiql">Loading the explorer…</div>
<script src="/explorer/react.production.min.js"></script>
<script src="/explorer/react-dom.production.min.js"></script>
<script src="/explorer/graphiql.min.js"></script>
<script>
  const apiKey = document.getElementById('api-key');
  async function fetcher(params, options) {
    const key = apiKey.value.trim();
    const response = await fetch(location.pathname, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(key ? { authorization: 'Bearer ' + key } : {}),
        ...(options && options.headers),
      },
      body: JSON.stringify(params),
    });
    return response.json();
  }
  const tabs = ${scriptJson(tabs)};
  // GraphiQL fills the first tab's variables from this prop, not from defaultTabs; once it
  // has stored tabs (localStorage), it restores them, and the prop would add a tab.
  const firstVisit = !localStorage.getItem('graphiql:tabState');
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultTabs: tabs,
      variables: firstVisit ? tabs[0].variables : undefined,
      defaultEditorToolsVisibility: 'variables',
      shouldPersistHeaders: false,
    }),
  );
</script>
</body>
</html>`;
}

const MISSING_FILES_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>KMS · GraphQL explorer</title></head>
<body><p>The GraphQL explorer needs the development dependencies (graphiql, react, react-dom):
run <code>npm ci</code>. POST /graphql works without it.</p></body></html>`;
