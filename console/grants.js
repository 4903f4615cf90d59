// The grants page: active grants with Revoke (a reason is required), and the grants that expired
// or were revoked. Uses GET /api/v1/grants and POST /api/v1/grants/{id}/revoke; approvers see
// every grant, anyone else their own (as with `jitgate grant list`). Needs app.js.
'use strict';

const GRANTS_POLL_MS = 5000;
const grants = { timer: null, busy: new Set() };

function grantCells(g) {
  const who = g.grantee?.display || g.grantee?.email || g.grantee?.subject || '?';
  const resource = g.role ? `${g.resource} (role ${g.role})` : g.resource;
  return [who, resource, g.rule || '—', formatTime(g.starts_at), formatTime(g.expires_at),
    g.review_id || '—'];
}

function revokeForm(g) {
  const form = el('form', { className: 'inline' });
  form.setAttribute('aria-label', `Revoke grant ${g.id}`);
  const input = el('input', { type: 'text', name: 'reason', maxLength: 500, autocomplete: 'off',
    id: `revoke-reason-${g.id}` });
  input.setAttribute('aria-required', 'true');  // checked in revokeGrant, with a clear note
  form.append(el('label', { htmlFor: input.id, textContent: 'Reason' }), input,
    el('button', { type: 'submit', className: 'reject', textContent: 'Revoke' }),
    el('p', { className: 'note', role: 'status' }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    revokeGrant(g.id, form);
  });
  return form;
}

function grantRow(g, active) {
  const tr = el('tr');
  tr.dataset.id = g.id;
  for (const text of grantCells(g)) tr.append(el('td', { textContent: text }));
  if (active) {
    tr.append(el('td', {}, revokeForm(g)));
  } else {
    const by = g.ended_by ? ` by ${g.ended_by}` : '';
    const why = g.end_reason ? `: ${g.end_reason}` : '';
    tr.append(el('td', { textContent: `${g.state} ${formatTime(g.ended_at || g.expires_at)}` +
      `${by}${why}` }));
  }
  return tr;
}

// Replaces the rows of a table, keeping a row whose form is in use (focused or sending).
function fillGrants(table, list, active) {
  const body = $(table).tBodies[0];
  const focused = document.activeElement?.closest?.('tr')?.dataset.id;
  const old = new Map([...body.rows].map((tr) => [tr.dataset.id, tr]));
  body.replaceChildren(...list.map((g) => {
    const keep = old.get(g.id);
    return keep && (focused === g.id || grants.busy.has(g.id)) ? keep : grantRow(g, active);
  }));
  $(table).hidden = list.length === 0;
}

async function loadGrants() {
  clearTimeout(grants.timer);
  if (state.page !== 'grants') return;
  try {
    const res = await fetch('/api/v1/grants?limit=500', { credentials: 'same-origin',
      cache: 'no-store', headers: { Accept: 'application/json' } });
    if (res.status === 401) return signedOut();
    $('grants-refused').hidden = res.ok;
    if (!res.ok) {
      $('grants-refused').textContent = `Grants cannot be shown: ${await refusalOf(res)}`;
    } else {
      const list = (await res.json()).grants || [];
      const active = list.filter((g) => g.state === 'active');
      const ended = list.filter((g) => g.state !== 'active');
      fillGrants('grants-active', active, true);
      fillGrants('grants-ended', ended, false);
      $('grants-active-empty').hidden = active.length > 0;
      $('grants-ended-empty').hidden = ended.length > 0;
      $('grants-status').textContent = `${active.length} active · updated ` +
        formatTime(new Date().toISOString());
    }
  } catch (err) {
    showError(`The gateway cannot be reached: ${err.message}`);
  }
  grants.timer = setTimeout(loadGrants, GRANTS_POLL_MS);
}

async function revokeGrant(id, form) {
  const note = form.querySelector('.note');
  const button = form.querySelector('button');
  const reason = form.querySelector('input').value.trim();
  if (!reason) {
    note.className = 'note bad';
    note.textContent = 'Say why the grant is revoked: the reason is recorded and shown to them.';
    return;
  }
  grants.busy.add(id);
  button.disabled = true;
  note.className = 'note';
  note.textContent = 'Revoking…';
  try {
    const res = await api('POST', `/api/v1/grants/${encodeURIComponent(id)}/revoke`, { reason });
    if (res.ok) {
      note.textContent = 'Revoked; its live sessions are ended.';
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
    setTimeout(() => { grants.busy.delete(id); loadGrants(); }, 3000);
  }
}

PAGES.grants = {
  show() { loadGrants(); },
  hide() { clearTimeout(grants.timer); },
};
