// The document lineage page (#documents): every retrieval of one document id across SQL, HTTP
// and MCP sessions, newest first (GET /api/v1/audit/statements?document=, for the auditor
// groups, as `jitgate audit search --document`). Each row opens its session's replay. Needs
// app.js and sessions.js (hit rows).
'use strict';

async function showLineage(ev) {
  ev.preventDefault();
  const form = $('lineage');
  const id = form.elements.document.value.trim();
  if (!id) {
    $('lineage-status').textContent = 'Give a document id, as your documents table or the ' +
      'document paths of an HTTP resource name it.';
    return;
  }
  const q = new URLSearchParams({ document: id, limit: String(MAX_HITS) });
  for (const name of ['since', 'until']) {
    const v = form.elements[name].value;
    if (v && utcParam(v)) q.set(name, utcParam(v));
  }
  $('lineage-status').textContent = 'Searching…';
  const res = await fetch(`/api/v1/audit/statements?${q}`, { credentials: 'same-origin',
    cache: 'no-store', headers: { Accept: 'application/json' } });
  if (res.status === 401) return signedOut();
  if (!res.ok) {
    $('lineage-hits').hidden = true;
    $('lineage-status').textContent = `The lineage cannot be shown (HTTP ${res.status}): ` +
      await refusalOf(res);
    return;
  }
  const hits = await res.json();
  $('lineage-hits').tBodies[0].replaceChildren(...hits.map((h) => hitRow(h, true)));
  $('lineage-hits').hidden = hits.length === 0;
  const protocols = [...new Set(hits.map((h) => h.protocol || 'postgres'))].join(', ');
  $('lineage-status').textContent = hits.length === 0 ?
    `Nothing recorded returned document ${id}. Check the id, or widen the time range.` :
    `${hits.length} retrieval(s) of document ${id} (${protocols})` +
    (hits.length >= MAX_HITS ? ': the newest ones; narrow the time range to see older' : '');
}

document.addEventListener('DOMContentLoaded', () => {
  $('lineage').addEventListener('submit', (ev) => {
    showLineage(ev).catch((err) => showError(`The gateway cannot be reached: ${err.message}`));
  });
});

PAGES.documents = { show() { $('lineage').elements.document.focus(); }, hide() {} };
