// The sessions page: live sessions with "End session" (GET and DELETE /api/v1/sessions, for the
// approvers, as `jitgate sessions`), and a search over the recorded statements and requests
// (GET /api/v1/audit/statements, for the auditor groups, as `jitgate audit search`). A part the
// person may not use shows the API's refusal instead. Needs app.js.
'use strict';

const LIVE_POLL_MS = 3000;
const PAGE_SIZE = 25;
const MAX_HITS = 1000;  // the audit API's limit: later pages need a narrower search
const sessions = { timer: null, busy: new Set(), query: null, page: 0 };

function refuse(part, text) {
  $(`${part}-refused`).textContent = text;
  $(`${part}-refused`).hidden = false;
}

function endForm(s) {
  const form = el('form', { className: 'inline' });
  form.setAttribute('aria-label', `End session ${s.id} of ${s.user || 'an unauthenticated client'}`);
  const input = el('input', { type: 'text', name: 'reason', maxLength: 200, autocomplete: 'off',
    id: `end-reason-${s.id}` });
  form.append(el('label', { htmlFor: input.id, textContent: 'Reason (optional)' }), input,
    el('button', { type: 'submit', className: 'reject', textContent: 'End session' }),
    el('p', { className: 'note', role: 'status' }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    endSession(s.id, form);
  });
  return form;
}

function liveRow(s) {
  const tr = el('tr');
  tr.dataset.id = s.id;
  const cells = [s.user || '(signing in)', s.resource || '—', s.client_addr || '—',
    formatTime(s.started), String(s.statements ?? '—')];
  for (const text of cells) tr.append(el('td', { textContent: text }));
  tr.append(el('td', {}, endForm(s)));
  return tr;
}

async function loadLive() {
  clearTimeout(sessions.timer);
  if (state.page !== 'sessions') return;
  try {
    const res = await fetch('/api/v1/sessions', { credentials: 'same-origin', cache: 'no-store',
      headers: { Accept: 'application/json' } });
    if (res.status === 401) return signedOut();
    if (res.status === 403) {
      refuse('live', `Live sessions are not shown to you: ${await refusalOf(res)}`);
      $('live').hidden = true;
      checkRefusedPage();
      return;
    }
    const list = res.ok ? (await res.json()).sessions || [] : [];
    const body = $('live').tBodies[0];
    const focused = document.activeElement?.closest?.('tr')?.dataset.id;
    const old = new Map([...body.rows].map((tr) => [tr.dataset.id, tr]));
    body.replaceChildren(...list.map((s) => {
      const keep = old.get(s.id);
      return keep && (focused === s.id || sessions.busy.has(s.id)) ? keep : liveRow(s);
    }));
    $('live').hidden = list.length === 0;
    $('live-empty').hidden = list.length > 0;
    $('live-status').textContent = `${list.length} live · updated ` +
      formatTime(new Date().toISOString());
  } catch (err) {
    showError(`The gateway cannot be reached: ${err.message}`);
  }
  sessions.timer = setTimeout(loadLive, LIVE_POLL_MS);
}

async function endSession(id, form) {
  const note = form.querySelector('.note');
  const button = form.querySelector('button');
  const reason = form.querySelector('input').value.trim();
  sessions.busy.add(id);
  button.disabled = true;
  note.className = 'note';
  note.textContent = 'Ending…';
  try {
    const query = reason ? `?reason=${encodeURIComponent(reason)}` : '';
    const res = await api('DELETE', `/api/v1/sessions/${encodeURIComponent(id)}${query}`);
    if (res.ok) {
      note.textContent = 'Ended: the client was told it was ended by you.';
    } else {
      note.className = 'note bad';
      note.textContent = `Refused (HTTP ${res.status}): ${await refusalOf(res)}`;
      button.disabled = false;
    }
  } catch (err) {
    note.className = 'note bad';
    note.textContent = `Not sent: ${err.message}`;
    button.disabled = false;
  } finally {
    setTimeout(() => { sessions.busy.delete(id); loadLive(); }, 3000);
  }
}

// A datetime-local value is in the browser's zone; the API takes UTC ("...Z").
function utcParam(local) {
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? null : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function searchQuery(form) {
  const q = new URLSearchParams();
  for (const name of ['user', 'resource', 'table', 'document', 'path', 'tool', 'decision']) {
    const v = form.elements[name].value.trim();
    if (v) q.set(name, v);
  }
  for (const name of ['since', 'until']) {
    const v = form.elements[name].value;
    if (v && utcParam(v)) q.set(name, utcParam(v));
  }
  return q;
}

function hitText(h) {
  if (h.method) return `${h.method} ${h.path}${h.status ? ` → ${h.status}` : ''}`;
  if (h.tool || h.rpc_method) return `MCP ${h.rpc_method || ''} ${h.tool || ''}`.trim();
  return h.text || '';
}

// One search hit; `protocol` adds the session's protocol (the lineage page). The session cell
// opens the session's replay.
function hitRow(h, protocol) {
  const tr = el('tr');
  const decision = h.decision + (h.rule ? ` (${h.rule})` : '') + (h.error ? ` · ${h.error}` : '');
  const cells = [formatTime(h.time), h.email || h.subject];
  if (protocol) cells.push(h.protocol || 'postgres');
  cells.push(h.resource, decision);
  for (const text of cells) tr.append(el('td', { textContent: text }));
  tr.append(el('td', {}, el('code', { className: 'hit', textContent: hitText(h) })));
  const link = el('a', { href: `#session/${encodeURIComponent(h.session)}`,
    textContent: `${h.session} #${h.statement}` });
  link.setAttribute('aria-label', `Open session ${h.session} (statement ${h.statement})`);
  tr.append(el('td', {}, link));
  return tr;
}

async function runSearch() {
  const q = new URLSearchParams(sessions.query);
  const wanted = Math.min(MAX_HITS, (sessions.page + 1) * PAGE_SIZE + 1);
  q.set('limit', String(wanted));
  $('search-status').textContent = 'Searching…';
  const res = await fetch(`/api/v1/audit/statements?${q}`, { credentials: 'same-origin',
    cache: 'no-store', headers: { Accept: 'application/json' } });
  if (res.status === 401) return signedOut();
  if (!res.ok) {
    const why = await refusalOf(res);
    if (res.status === 403) {
      refuse('search', `The search is not open to you: ${why}`);
      $('search').hidden = true;
      checkRefusedPage();
    }
    $('search-status').textContent = `The search failed (HTTP ${res.status}): ${why}`;
    return;
  }
  const hits = await res.json();
  const first = sessions.page * PAGE_SIZE;
  const shown = hits.slice(first, first + PAGE_SIZE);
  $('hits').tBodies[0].replaceChildren(...shown.map(hitRow));
  $('hits').hidden = shown.length === 0;
  const more = hits.length > first + PAGE_SIZE;
  $('pager').hidden = sessions.page === 0 && !more;
  $('prev-page').disabled = sessions.page === 0;
  $('next-page').disabled = !more || wanted >= MAX_HITS;
  $('page-label').textContent = `Page ${sessions.page + 1}`;
  $('search-status').textContent = shown.length === 0 ?
    'Nothing recorded matches. Widen the time range or clear a field, then search again.' :
    `Showing ${first + 1}–${first + shown.length}` +
    (wanted >= MAX_HITS && more ? ' (narrow the search to see more)' : '');
}

// Neither part open to this person: say so once, as the page's only content.
function checkRefusedPage() {
  const refused = !$('live-refused').hidden && !$('search-refused').hidden;
  $('sessions').classList.toggle('refused', refused);
}

async function probeSearch() {
  // The search form is offered only to those the audit API admits (a one-row probe).
  const res = await fetch('/api/v1/audit/statements?limit=1', { credentials: 'same-origin',
    cache: 'no-store', headers: { Accept: 'application/json' } });
  if (res.status === 403 || res.status === 503) {
    refuse('search', `The search is not open to you: ${await refusalOf(res)}`);
    $('search').hidden = true;
    checkRefusedPage();
  } else {
    $('search-refused').hidden = true;
    $('search').hidden = false;
  }
}

function setUpSearch() {
  $('search').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessions.query = searchQuery($('search')).toString();
    sessions.page = 0;
    runSearch();
  });
  $('prev-page').addEventListener('click', () => { sessions.page -= 1; runSearch(); });
  $('next-page').addEventListener('click', () => { sessions.page += 1; runSearch(); });
}

document.addEventListener('DOMContentLoaded', setUpSearch);

PAGES.sessions = {
  show() {
    loadLive();
    probeSearch().catch((err) => showError(`The gateway cannot be reached: ${err.message}`));
  },
  hide() { clearTimeout(sessions.timer); },
};
