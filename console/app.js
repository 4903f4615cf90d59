// The jitgate console: the page shell (sign-in, navigation between pages by the URL's hash) and
// the reviews inbox; grants.js and sessions.js add their pages through PAGES. Plain DOM, no
// framework, nothing from the network except this gateway's own admin API. Data from the API is
// only ever set as text (textContent / text nodes), never parsed as HTML.
'use strict';

const POLL_MS = 3000;
const SQL_KEYWORDS = new Set((
  'select from where and or not insert into values update set delete join left right inner ' +
  'outer full cross on using group by order having limit offset union all distinct as case ' +
  'when then else end is null in exists between like ilike returning with create alter drop ' +
  'table index view grant revoke truncate copy begin commit rollback asc desc true false'
).split(' '));
const HTTP_METHODS = /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (\S+)/;

const state = { me: null, etag: null, reviews: [], timer: null, busy: new Set(), page: null };
// Pages by the id of their <section>: { show(), hide() }, the hash that opens them is in the nav.
const PAGES = { inbox: { show() {}, hide() {} } };

function $(id) { return document.getElementById(id); }

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const c of children) node.append(c);
  return node;
}

// "2026-12-07 14:03:10 CET (UTC+01:00)": absolute, in the browser's zone, with the zone named.
function formatTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  const zone = Intl.DateTimeFormat(undefined, { timeZoneName: 'short' })
    .formatToParts(d).find((p) => p.type === 'timeZoneName')?.value || '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone} ` +
    `(UTC${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)})`;
}

// SQL in a <pre>, keywords, strings and numbers wrapped in spans made from text nodes.
function highlightSql(text) {
  const pre = el('pre', { className: 'sql' });
  const code = el('code');
  const token = /('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)/g;
  let last = 0;
  for (const m of text.matchAll(token)) {
    if (m.index > last) code.append(document.createTextNode(text.slice(last, m.index)));
    const word = m[0];
    if (m[1]) code.append(el('span', { className: 'str', textContent: word }));
    else if (m[3]) code.append(el('span', { className: 'num', textContent: word }));
    else if (m[4] && SQL_KEYWORDS.has(word.toLowerCase())) {
      code.append(el('span', { className: 'kw', textContent: word }));
    } else code.append(document.createTextNode(word));
    last = m.index + word.length;
  }
  if (last < text.length) code.append(document.createTextNode(text.slice(last)));
  pre.append(code);
  return pre;
}

function prettyJson(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

// The held request as the approver must see it: SQL, an HTTP request, or an MCP tool call.
function renderRequest(review) {
  const box = el('div');
  const text = review.statement?.text;
  if (text === undefined) {
    const hours = Math.round((review.grant_duration_seconds || 0) / 360) / 10;
    box.append(el('p', { textContent: `Access to ${review.resource} as ${review.role || 'the ' +
      'default role'} for ${hours} h (a session grant, asked ahead of time).` }));
    return box;
  }
  const mcp = /^MCP (\S+) on (\S+)(?:\narguments: ([\s\S]*))?$/.exec(text);
  const httpReq = HTTP_METHODS.exec(text);
  if (mcp) {
    box.append(el('h4', { textContent: 'MCP tool call' }));
    box.append(el('p', { textContent: `${mcp[1]} on ${mcp[2]}` }));
    if (mcp[3]) {
      box.append(el('h4', { textContent: 'Arguments' }));
      box.append(el('pre', { textContent: prettyJson(mcp[3]) }));
    }
  } else if (httpReq) {
    box.append(el('h4', { textContent: 'HTTP request' }));
    box.append(el('pre', { textContent: `${httpReq[1]} ${httpReq[2]}` }));
    const body = text.indexOf('\n\n');
    if (body >= 0) {
      box.append(el('h4', { textContent: 'Body' }));
      box.append(el('pre', { textContent: prettyJson(text.slice(body + 2)) }));
    }
  } else {
    box.append(el('h4', { textContent: 'SQL statement' }));
    box.append(highlightSql(text));
  }
  return box;
}

// The requester's recent reviews (an approver's view of their history), fetched once for each
// pending review when it is first shown, under it.
const histories = new Map();

function historyLine(r) {
  const what = r.statement?.text ? r.statement.text.split('\n')[0].slice(0, 120) :
    `session access for ${Math.round((r.grant_duration_seconds || 0) / 360) / 10} h`;
  const by = (r.decisions || []).map((d) => d.approver?.display || d.approver?.subject)
    .filter(Boolean).join(', ');
  return `${formatTime(r.created_at)} · ${r.resource} · ${r.state}${by ? ` by ${by}` : ''}` +
    ` · ${what}`;
}

async function loadHistory(review, list) {
  const sub = review.requester?.subject;
  if (!sub) return;
  if (!histories.has(review.id)) {
    const url = `/api/v1/reviews?requester=${encodeURIComponent(sub)}&limit=6`;
    histories.set(review.id, fetch(url, { credentials: 'same-origin', cache: 'no-store',
      headers: { Accept: 'application/json' } })
      .then((res) => (res.ok ? res.json() : { reviews: [] })).then((b) => b.reviews || []));
  }
  const all = await histories.get(review.id);
  const earlier = all.filter((r) => r.id !== review.id).slice(0, 5);
  list.replaceChildren(...(earlier.length ? earlier.map((r) => el('li', { textContent:
    historyLine(r) })) : [el('li', { textContent: 'No earlier request by this person.' })]));
}

function mayDecide(review) {
  const groups = new Set(state.me?.groups || []);
  return (review.approvers?.groups || []).some((g) => groups.has(g));
}

function renderReview(review) {
  const item = $('review-template').content.firstElementChild.cloneNode(true);
  item.dataset.id = review.id;
  const q = (sel) => item.querySelector(sel);
  const what = review.statement ? 'Statement' : 'Session access';
  q('.review-title').textContent = `${what} on ${review.resource} · review ${review.id}`;
  const need = review.approvers?.count || 1;
  q('.progress').textContent = `${review.approvals || 0} of ${need} approvals`;
  q('.requester').textContent = review.requester?.display || review.requester?.subject || '?';
  q('.resource').textContent = review.role ? `${review.resource} (role ${review.role})` :
    review.resource;
  q('.rule').textContent = review.rule || '—';
  q('.reason').textContent = review.reason || '—';
  q('.created').textContent = formatTime(review.created_at);
  q('.expires').textContent = formatTime(review.expires_at);
  q('.request').append(renderRequest(review));
  loadHistory(review, q('.history-list')).catch(() => {});
  const form = q('form');
  const input = form.querySelector('input');
  input.id = `comment-${review.id}`;
  form.setAttribute('aria-label', `Decide review ${review.id}`);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    decide(review.id, ev.submitter?.value || 'approve', form);
  });
  return item;
}

function render() {
  const list = $('reviews');
  const mine = state.reviews.filter(mayDecide);
  const focused = document.activeElement?.closest?.('.review')?.dataset.id;
  const shown = new Map([...list.children].map((li) => [li.dataset.id, li]));
  const keep = new Set(mine.map((r) => r.id));
  for (const [id, li] of shown) if (!keep.has(id) && !state.busy.has(id)) li.remove();
  for (const review of mine) {
    const old = shown.get(review.id);
    if (old && (state.busy.has(review.id) || focused === review.id)) {
      old.querySelector('.progress').textContent =
        `${review.approvals || 0} of ${review.approvers?.count || 1} approvals`;
      continue;
    }
    const fresh = renderReview(review);
    if (old) {
      fresh.querySelector('input').value = old.querySelector('input').value;
      old.replaceWith(fresh);
    } else list.append(fresh);
  }
  $('inbox-empty').hidden = mine.length > 0;
  $('inbox-status').textContent = `${mine.length} waiting · updated ${formatTime(new Date().toISOString())}`;
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    headers['X-CSRF-Token'] = state.me?.csrf_token || '';
  }
  return fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined,
    credentials: 'same-origin', cache: 'no-store' });
}

async function poll() {
  try {
    const headers = { Accept: 'application/json' };
    if (state.etag) headers['If-None-Match'] = state.etag;
    const res = await fetch('/api/v1/reviews?state=pending', { headers, credentials: 'same-origin',
      cache: 'no-store' });
    if (res.status === 401) return signedOut();
    if (res.status === 200) {
      state.etag = res.headers.get('ETag');
      state.reviews = (await res.json()).reviews || [];
      render();
    } else if (res.status !== 304) {
      showError(`The reviews could not be loaded (HTTP ${res.status}).`);
    }
    $('error').hidden = res.status === 200 || res.status === 304 ? true : $('error').hidden;
  } catch (err) {
    showError(`The gateway cannot be reached: ${err.message}`);
  }
  state.timer = setTimeout(poll, POLL_MS);
}

async function decide(id, verdict, form) {
  const note = form.querySelector('.note');
  const buttons = form.querySelectorAll('button');
  const comment = form.querySelector('input').value.trim();
  state.busy.add(id);
  buttons.forEach((b) => { b.disabled = true; });
  note.className = 'note';
  note.textContent = verdict === 'approve' ? 'Approving…' : 'Rejecting…';
  try {
    const res = await api('POST', `/api/v1/reviews/${encodeURIComponent(id)}/${verdict}`,
      { comment });
    const body = await res.json().catch(() => ({}));
    if (res.ok) {
      note.textContent = verdict === 'approve' ?
        `Approved (${body.approvals || 0} of ${body.approvers?.count || 1}); state: ${body.state}.` :
        `Rejected; state: ${body.state}.`;
      state.etag = null;
    } else {
      note.className = 'note bad';
      note.textContent = `Refused (HTTP ${res.status}): ${body.message || body.error || ''}`;
      buttons.forEach((b) => { b.disabled = false; });
    }
  } catch (err) {
    note.className = 'note bad';
    note.textContent = `Not sent: ${err.message}`;
    buttons.forEach((b) => { b.disabled = false; });
  } finally {
    // Keep the answer readable a moment, then show the inbox as last fetched.
    setTimeout(() => { state.busy.delete(id); render(); }, 4000);
  }
}

function showError(text) {
  $('error').textContent = text;
  $('error').hidden = false;
}

function signedOut() {
  clearTimeout(state.timer);
  if (state.page) PAGES[state.page].hide();
  state.me = null;
  state.page = null;
  $('who').hidden = true;
  for (const id of Object.keys(PAGES)) $(id).hidden = true;
  $('signed-out').hidden = false;
}

// The page the hash names (#reviews, #grants, ...; #session/<id> is a session's detail); the
// inbox when it names none.
function pageOf(hash) {
  if (hash.startsWith('#session/')) return 'detail';
  const link = [...document.querySelectorAll('nav a[data-page]')]
    .find((a) => a.getAttribute('href') === hash);
  return link?.dataset.page || 'inbox';
}

function route() {
  if (!state.me) return;
  const page = pageOf(location.hash);
  if (state.page && state.page !== page) PAGES[state.page].hide();
  for (const a of document.querySelectorAll('nav a[data-page]')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  for (const id of Object.keys(PAGES)) $(id).hidden = id !== page;
  if (state.page !== page || page === 'detail') {
    state.page = page;
    PAGES[page].show();
  }
}

// "refused": the API's own words for a 401/403, shown where the page's content would be.
async function refusalOf(res) {
  const body = await res.json().catch(() => ({}));
  return body.message || body.error || `HTTP ${res.status}`;
}

async function signOut() {
  await api('POST', '/console/logout');
  signedOut();
}

async function start() {
  $('sign-out').addEventListener('click', signOut);
  const res = await fetch('/console/api/me', { credentials: 'same-origin', cache: 'no-store' });
  if (res.status !== 200) return signedOut();
  state.me = await res.json();
  $('who-name').textContent = `Signed in as ${state.me.display}`;
  $('who').hidden = false;
  $('signed-out').hidden = true;
  window.addEventListener('hashchange', route);
  route();
  poll();
}

document.addEventListener('DOMContentLoaded', start);
