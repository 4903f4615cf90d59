// The session detail page (#session/<id>): a recorded session's replay timeline from
// GET /api/v1/audit/sessions/{id} (as sent to the client: masked), and for auditors in the
// reveal groups the values before masking from POST /api/v1/audit/sessions/{id}/reveal, which
// records the reveal with the person's reason before it answers. Needs app.js.
'use strict';

const detail = { id: null, columns: new Map(), raw: false };

function isoOf(ts) { return typeof ts === 'number' ? new Date(ts / 1000).toISOString() : ts; }

function cellText(c) {
  if (c === null) return 'NULL';
  if (typeof c === 'object' && c.hex !== undefined) return `\\x${c.hex}`;
  return String(c);
}

// A table of rows; with `compare` (the rows as sent), cells that masking changed are marked.
function rowsTable(columns, rows, caption, compare) {
  const table = el('table', { className: 'rows' });
  table.append(el('caption', { textContent: caption }));
  const head = el('tr');
  const width = Math.max(columns.length, ...rows.map((r) => r.length));
  for (let i = 0; i < width; i++) {
    head.append(el('th', { scope: 'col', textContent: columns[i]?.name ?? `column ${i + 1}` }));
  }
  table.append(el('thead', {}, head));
  const body = el('tbody');
  rows.forEach((row, i) => {
    const tr = el('tr');
    row.forEach((c, j) => {
      const changed = compare && cellText(compare[i]?.[j] ?? null) !== cellText(c);
      tr.append(el('td', {}, changed ? el('mark', { textContent: cellText(c) }) :
        document.createTextNode(cellText(c))));
    });
    body.append(tr);
  });
  table.append(body);
  return el('div', { className: 'table-wrap' }, table);
}

function bodyBlock(title, r, key) {
  const text = r[key] ?? (r[`${key}_b64`] !== undefined ? `(binary, base64) ${r[`${key}_b64`]}` :
    undefined);
  if (text === undefined || text === '') return [];
  return [el('h4', { textContent: title }), el('pre', { textContent: prettyJson(text) })];
}

function decisionText(r) {
  if (!r.decision) return '';
  const words = { allow: 'allowed', deny: 'denied', review: 'held for review' };
  const reason = r.reason === `rule ${r.rule}` ? '' : r.reason;  // the default says no more
  return [words[r.decision] || r.decision, r.rule && `rule ${r.rule}`, reason,
    r.review && `review ${r.review}`, r.grant && `grant ${r.grant}`].filter(Boolean).join(' · ');
}

function statementParts(r) {
  const parts = [highlightSql(r.text || '')];
  const facts = [decisionText(r), r.tables?.length ? `tables ${r.tables.join(', ')}` : '',
    r.documents?.length ? `documents ${r.documents.join(', ')}` : ''].filter(Boolean);
  if (facts.length) parts.push(el('p', { textContent: facts.join(' · ') }));
  if (r.params_raw) {
    parts.push(el('h4', { textContent: 'Parameters (before masking)' }),
      el('pre', { textContent: JSON.stringify(r.params_raw) }));
  } else if (r.param_digests?.length) {
    parts.push(el('p', { className: 'muted', textContent: `${r.param_digests.length} ` +
      'parameter value(s), sealed: revealed only with a reason.' }));
  }
  return parts;
}

function documentsLine(r) {
  return r.documents?.length ? [el('p', { textContent: `documents ${r.documents.join(', ')}` })] :
    [];
}

function resultParts(r) {
  const columns = detail.columns.get(r.stmt) || [];
  const parts = [rowsTable(columns, r.rows || [], `${(r.rows || []).length} row(s) as sent`)];
  if (r.rows_raw) {
    parts.push(rowsTable(columns, r.rows_raw, 'Before masking (changed cells marked)', r.rows));
  }
  parts.push(...documentsLine(r));
  return parts;
}

function httpRequestParts(r) {
  const line = `${r.method} ${r.path}${r.query ? `?${r.query}` : ''}`;
  const mcp = [r.rpc_method, r.tool].filter(Boolean).join(' ');
  const tool = mcp ? ` · MCP ${mcp}` : '';
  return [el('pre', { textContent: line }), el('p', { textContent: decisionText(r) + tool }),
    ...bodyBlock('Body', r, 'body')];
}

function httpBodyParts(r) {
  const status = `HTTP ${r.status} ${r.content_type || ''}`;
  const head = r.status ? [el('p', { textContent: status })] : [];
  return [...head, ...bodyBlock('Body as sent', r, 'body'),
    ...bodyBlock('Body before masking', r, 'body_raw'),
    ...documentsLine(r)];
}

function maskedText(m) {
  const parts = Object.entries(m || {}).map(([k, n]) => `${k} ${n}`);
  return parts.length ? ` · masked ${parts.join(', ')}` : '';
}

// [label, parts] for one record.
function describe(r) {
  switch (r.type) {
    case 'connect': return ['Connected', [el('p', { textContent: [`from ${r.client}`,
      r.resource && `to ${r.resource}`, r.protocol, r.app && `application ${r.app}`,
      r.tls_version].filter(Boolean).join(' · ') })]];
    case 'auth': return [r.ok ? 'Signed in' : 'Sign-in refused', [el('p', { textContent:
      [r.principal?.email || r.principal?.sub, r.method, r.reason].filter(Boolean)
        .join(' · ') })]];
    case 'statement': return [`Statement ${r.stmt}`, statementParts(r)];
    case 'result_start': detail.columns.set(r.stmt, r.columns || []); return null;
    case 'result_rows': return [`Result of statement ${r.stmt}`, resultParts(r)];
    case 'result_end': return [`End of result ${r.stmt}`, [el('p', { textContent:
      `${r.tag || ''} · ${r.rows ?? 0} row(s)${maskedText(r.masked)}` })]];
    case 'error': return [`Error${r.stmt ? ` (statement ${r.stmt})` : ''}`, [el('p', {
      className: 'bad', textContent: [r.severity, r.sqlstate, r.http_status && `HTTP ` +
      r.http_status, r.message].filter(Boolean).join(' · ') })]];
    case 'http_request': return [`Request ${r.req}`, httpRequestParts(r)];
    case 'http_response': return [`Response ${r.req}`, httpBodyParts(r)];
    case 'http_body': return [`Response ${r.req}, more body`, httpBodyParts(r)];
    case 'http_response_end': return [`End of response ${r.req}`, [el('p', { textContent:
      `${r.outcome} · ${r.bytes} byte(s)${maskedText(r.masked)}` })]];
    case 'mcp_message': return [`MCP message (${r.direction})`, [el('p', { textContent:
      [r.rpc_method, r.tool, decisionText(r)].filter(Boolean).join(' · ') }),
      ...httpBodyParts(r)]];
    case 'session_end': return ['Session ended', [el('p', { textContent:
      `${r.reason || ''} · ${r.statements ?? 0} statement(s), ${r.rows ?? 0} row(s)` })]];
    default: return [r.type, [el('pre', { textContent: JSON.stringify(r, null, 2) })]];
  }
}

function timelineItem(r) {
  const shown = describe(r);
  if (!shown) return null;
  const li = el('li', { className: `event ${r.type}` });
  const offset = typeof r.offset_s === 'number' ? `+${r.offset_s.toFixed(3)} s` : '';
  li.append(el('h3', { textContent: shown[0] }),
    el('p', { className: 'when', textContent: `${formatTime(isoOf(r.ts))} ${offset}` }),
    ...shown[1]);
  return li;
}

function renderFacts(records) {
  const connect = records.find((r) => r.type === 'connect') || {};
  const auth = records.find((r) => r.type === 'auth' && r.ok) || {};
  const end = records.find((r) => r.type === 'session_end');
  const facts = [['User', auth.principal?.email || auth.principal?.sub || '—'],
    ['Resource', connect.resource || '—'], ['Protocol', connect.protocol || '—'],
    ['Client', connect.client || '—'], ['Started', formatTime(isoOf(records[0]?.ts))],
    ['Ended', end ? `${formatTime(isoOf(end.ts))} (${end.reason || 'closed'})` : 'not recorded']];
  $('detail-facts').replaceChildren(...facts.flatMap(([k, v]) =>
    [el('dt', { textContent: k }), el('dd', { textContent: v })]));
}

function renderTimeline(body) {
  detail.columns = new Map();
  const items = body.records.map(timelineItem).filter(Boolean);
  $('timeline').replaceChildren(...items);
  renderFacts(body.records);
  $('detail-status').textContent = `${body.records.length} record(s)` +
    (body.truncated ? ' (the first ones only)' : '') + (body.raw ? ' · raw values shown' : '');
}

async function loadDetail(id) {
  detail.id = id;
  detail.raw = false;
  $('detail-title').textContent = `Session ${id}`;
  $('revealed-banner').hidden = true;
  $('detail-refused').hidden = true;
  $('timeline').replaceChildren();
  $('detail-status').textContent = 'Loading…';
  const res = await fetch(`/api/v1/audit/sessions/${encodeURIComponent(id)}`, {
    credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } });
  if (res.status === 401) return signedOut();
  if (!res.ok) {
    $('detail-refused').textContent = `This session cannot be shown: ${await refusalOf(res)}`;
    $('detail-refused').hidden = false;
    $('detail-status').textContent = '';
    $('reveal').hidden = true;
    return;
  }
  $('reveal').hidden = false;
  renderTimeline(await res.json());
}

async function reveal(ev) {
  ev.preventDefault();
  const note = $('reveal-note');
  const reason = $('reveal').elements.reason.value.trim();
  note.className = 'note';
  if (!reason) {
    note.className = 'note bad';
    note.textContent = 'Give the reason for revealing raw values: it is recorded with your name.';
    return;
  }
  note.textContent = 'Recording the reveal…';
  const res = await api('POST', `/api/v1/audit/sessions/${encodeURIComponent(detail.id)}/reveal`,
    { reason });
  if (res.status === 401) return signedOut();
  if (!res.ok) {
    note.className = 'note bad';
    note.textContent = `Refused (HTTP ${res.status}): ${await refusalOf(res)}`;
    return;
  }
  note.textContent = '';
  renderTimeline(await res.json());
  $('revealed-banner').textContent = `Raw values revealed to ${state.me?.display} at ` +
    `${formatTime(new Date().toISOString())}. The reveal is recorded in the audit log with your ` +
    `reason: “${reason}”.`;
  $('revealed-banner').hidden = false;
}

document.addEventListener('DOMContentLoaded', () => {
  $('reveal').addEventListener('submit', (ev) => {
    reveal(ev).catch((err) => showError(`The gateway cannot be reached: ${err.message}`));
  });
});

PAGES.detail = {
  show() {
    const id = decodeURIComponent(location.hash.slice('#session/'.length));
    loadDetail(id).catch((err) => showError(`The gateway cannot be reached: ${err.message}`));
  },
  hide() {},
};
