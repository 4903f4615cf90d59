// The health page (#health): the running configuration's checksum, the state store, the
// recorder's backlog and the latest verification of this replica's audit hash chain
// (GET /api/v1/health, for approvers and auditors), with "Verify now" for auditors
// (POST /api/v1/audit/verify). Refreshes every few seconds while open. Needs app.js.
'use strict';

const HEALTH_POLL_MS = 3000;
const health = { timer: null };

function facts(id, rows) {
  $(id).replaceChildren(...rows.filter(([, v]) => v !== undefined && v !== null)
    .flatMap(([k, v]) => [el('dt', { textContent: k }), el('dd', { textContent: String(v) })]));
}

function okText(ok, error) { return ok ? 'OK' : `FAILING: ${error || 'unknown'}`; }

function chainRows(c) {
  if (!c) return [['State', 'recording is off']];
  const words = { pending: 'not verified yet', running: 'verifying now…', ok: 'intact',
    failed: 'FAILED' };
  const inst = c.instances?.[0];
  return [['State', words[c.state] || c.state],
    ['Last started', c.started_at && formatTime(c.started_at)],
    ['Finished', c.finished_at && formatTime(c.finished_at)],
    ['Records checked', inst && `${inst.records} (seq ${inst.first_seq}..${inst.last_seq})`],
    ['Signed up to seq', inst?.last_signed_seq],
    ['End checked against the store', c.anchors_checked === undefined ? undefined :
      (c.anchors_checked ? 'yes' : 'no (no store)')],
    ['Took', c.duration_ms !== undefined ? `${c.duration_ms} ms` : undefined],
    ['First bad record', c.first_bad && `${c.first_bad.instance} segment ${c.first_bad.segment} ` +
      `seq ${c.first_bad.seq}: ${c.first_bad.what}`],
    ['Problem', c.error]];
}

function renderHealth(h) {
  const r = h.recorder;
  facts('health-facts', [['Gateway', h.instance], ['Configuration', h.config?.file],
    ['Checksum', h.config?.checksum], ['Loaded', formatTime(h.config?.loaded_at)],
    ['State store', h.store ? `${h.store.kind}: ${okText(h.store.ok, h.store.error)}` : 'none'],
    ['Live sessions', h.live_sessions], ['HTTP connections', h.http_connections]]);
  facts('recorder-facts', r ? [['Log', okText(r.ok, r.error)], ['Instance', r.instance],
    ['Durability', r.durability], ['Records written', r.records],
    ['Waiting to be written', `${r.queued} record(s)`], ['Durable up to seq', r.durable_upto],
    ['Segment', r.segment],
    ['Write failures / recoveries', `${r.write_failures} / ${r.recoveries}`]] :
    [['Recording', 'off']]);
  facts('chain-facts', chainRows(h.audit_chain));
  $('chain-state').className = `badge ${h.audit_chain?.state || 'off'}`;
  $('chain-state').textContent = h.audit_chain?.state === 'ok' ? 'chain intact' :
    h.audit_chain?.state === 'failed' ? 'chain FAILED' : (h.audit_chain?.state || 'off');
  $('health-status').textContent = `updated ${formatTime(new Date().toISOString())}`;
}

async function loadHealth() {
  clearTimeout(health.timer);
  if (state.page !== 'health') return;
  const res = await fetch('/api/v1/health', { credentials: 'same-origin', cache: 'no-store',
    headers: { Accept: 'application/json' } });
  if (res.status === 401) return signedOut();
  if (!res.ok) {
    $('health-refused').textContent = `Health is not shown to you: ${await refusalOf(res)}`;
    $('health-refused').hidden = false;
    $('health-body').hidden = true;
    return;
  }
  $('health-refused').hidden = true;
  $('health-body').hidden = false;
  renderHealth(await res.json());
  health.timer = setTimeout(() => loadHealth().catch(() => {}), HEALTH_POLL_MS);
}

async function verifyNow() {
  const note = $('verify-note');
  note.className = 'note';
  note.textContent = 'Asking for a verification…';
  const res = await api('POST', '/api/v1/audit/verify');
  if (res.status === 401) return signedOut();
  if (!res.ok) {
    note.className = 'note bad';
    note.textContent = `Refused (HTTP ${res.status}): ${await refusalOf(res)}`;
    return;
  }
  const body = await res.json();
  note.textContent = body.requested ? 'Verification started; the result appears below.' :
    'A verification is already under way; its result appears below.';
  loadHealth().catch(() => {});
}

document.addEventListener('DOMContentLoaded', () => {
  $('verify-now').addEventListener('click', () => {
    verifyNow().catch((err) => showError(`The gateway cannot be reached: ${err.message}`));
  });
});

PAGES.health = {
  show() {
    loadHealth().catch((err) => showError(`The gateway cannot be reached: ${err.message}`));
  },
  hide() { clearTimeout(health.timer); },
};
