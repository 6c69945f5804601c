// kcsr console's page script. Every value that comes from the API is put in the page with
// textContent (or as an attribute value through setAttribute): never as HTML.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);

  // The session's token comes once, in the fragment of the login's redirect (never sent
  // to a server); it is kept in this origin's storage and sent with every API request.
  const TOKEN_KEY = 'kcsr-console-token';
  if (location.hash.startsWith('#t=')) {
    localStorage.setItem(TOKEN_KEY, location.hash.slice(3));
    history.replaceState(null, '', '/#queue');
  }
  const token = localStorage.getItem(TOKEN_KEY) || '';

  // el makes an element with text and attributes; children are appended.
  function el(tag, text, attrs, ...children) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children) e.appendChild(c);
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function status(msg, kind) {
    const s = $('status');
    s.textContent = msg || '';
    s.className = kind || '';
  }

  async function api(method, path, body) {
    const opts = { method, headers: { 'X-Kcsr-Token': token }, credentials: 'same-origin' };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    try {
      const res = await fetch(path, opts);
      let data = null;
      const type = res.headers.get('Content-Type') || '';
      if (type.startsWith('application/json')) data = await res.json();
      else data = { error: await res.text() };
      return { ok: res.ok, status: res.status, data };
    } catch (e) {
      return { ok: false, status: 0, data: { error: 'The console cannot be reached (' + e.message + '): is kcsr console still running?' } };
    }
  }

  function age(iso) {
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 120) return Math.floor(s) + 's';
    if (s < 7200) return Math.floor(s / 60) + 'm';
    if (s < 172800) return Math.floor(s / 3600) + 'h';
    return Math.floor(s / 86400) + 'd';
  }

  // ---- session ----
  let session = { queue: false, inventory: false, revoke: false, reasonCodes: [] };

  // ---- queue ----
  const csrs = new Map(); // id → summary

  function queueRows() {
    const state = $('filter-state').value;
    const signer = $('filter-signer').value;
    const requester = $('filter-requester').value.trim();
    const rows = [...csrs.values()].filter((c) =>
      (!state || c.state === state) &&
      (!signer || c.signer === signer) &&
      (!requester || c.requester.includes(requester)));
    rows.sort((a, b) => a.created === b.created ? a.name.localeCompare(b.name) : (a.created < b.created ? -1 : 1));
    if ($('filter-sort').value === 'newest') rows.reverse();
    return rows;
  }

  function renderSigners() {
    const sel = $('filter-signer');
    const current = sel.value;
    const signers = [...new Set([...csrs.values()].map((c) => c.signer))].sort();
    clear(sel);
    sel.appendChild(el('option', 'All', { value: '' }));
    for (const s of signers) sel.appendChild(el('option', s, { value: s }));
    sel.value = signers.includes(current) ? current : '';
  }

  function renderQueue() {
    const body = $('queue-body');
    clear(body);
    const rows = queueRows();
    for (const c of rows) {
      const subject = el('td', null, {}, el('div', 'CN=' + c.cn), el('div', 'O=' + c.o, { class: 'muted' }));
      const requester = el('td', null, {}, el('div', c.requester), el('div', (c.requesterGroups || []).join(', '), { class: 'muted' }));
      const link = el('a', c.name, { href: '#csr/' + encodeURIComponent(c.id) });
      const tr = el('tr', null, { 'data-id': c.id, class: 'state-' + c.state.toLowerCase() },
        el('td', null, {}, link), el('td', age(c.created), { title: c.created }), subject,
        el('td', c.sans), el('td', c.key), el('td', c.usages), el('td', c.signer),
        el('td', c.duration), requester, el('td', c.condition, { class: 'state' }), el('td', c.verdict, { class: 'verdict' }));
      tr.addEventListener('click', (ev) => { if (ev.target.tagName !== 'A') location.hash = '#csr/' + encodeURIComponent(c.id); });
      body.appendChild(tr);
    }
    $('queue-empty').hidden = rows.length > 0;
  }

  function liveStatus() { return 'Live: ' + csrs.size + (csrs.size === 1 ? ' CSR' : ' CSRs'); }

  let events = null;
  function connectEvents() {
    if (!session.queue) return;
    if (events) events.close();
    events = new EventSource('/api/events?t=' + encodeURIComponent(token));
    events.addEventListener('snapshot', (ev) => {
      csrs.clear();
      for (const c of JSON.parse(ev.data)) csrs.set(c.id, c);
      renderSigners();
      renderQueue();
      status(liveStatus(), 'live');
    });
    events.addEventListener('change', (ev) => {
      const ch = JSON.parse(ev.data);
      if (ch.deleted) csrs.delete(ch.deleted); else csrs.set(ch.csr.id, ch.csr);
      renderSigners();
      renderQueue();
      const id = ch.csr ? ch.csr.id : ch.deleted;
      if (currentCSR === id && ch.csr) onDetailChange(ch.csr);
      status(liveStatus(), 'live');
    });
    events.onerror = () => {
      if (events.readyState === EventSource.CLOSED) {
        status('The live queue stopped: kcsr console stopped, or this session ended. Run kcsr console again and open its new link.', 'problem');
      } else {
        status('Reconnecting to the console…', 'warning');
      }
    };
  }

  // ---- CSR detail ----
  let currentCSR = null;
  let currentState = null;

  function severityClass(s) { return s === 'ok' ? 'ok' : (s === 'warning' ? 'warning' : 'problem'); }
  function severityMark(s) { return s === 'ok' ? '✓' : (s === 'warning' ? '⚠' : '✗'); }

  async function showCSR(id) {
    if (currentCSR !== id) {
      // Another CSR: nothing of the last one stays on screen while this one loads.
      $('detail-name').textContent = '';
      $('detail-state').textContent = '';
      $('detail-condition').textContent = 'Loading…';
      for (const n of ['detail-findings', 'detail-fields']) clear($(n));
      clear($('detail-events').tBodies[0]);
      $('detail-actions').hidden = true;
      $('deny-message').value = '';
    }
    currentCSR = id;
    $('detail-result').textContent = '';
    $('detail-result').className = 'result';
    $('confirm-panel').hidden = true;
    const res = await api('GET', '/api/csrs/' + encodeURIComponent(id));
    if (currentCSR !== id) return;
    if (!res.ok) {
      $('detail-result').textContent = res.data.error;
      $('detail-actions').hidden = true;
      return;
    }
    renderDetail(res.data);
  }

  let currentUID = '';
  function renderDetail(d) {
    const s = d.summary;
    currentState = s.state;
    currentUID = s.uid;
    $('detail-name').textContent = s.name;
    $('detail-state').textContent = s.state;
    $('detail-state').className = 'badge state-' + s.state.toLowerCase();
    $('detail-condition').textContent = s.condition;

    const findings = $('detail-findings');
    clear(findings);
    for (const f of d.findings) {
      const li = el('li', null, { class: severityClass(f.severity) },
        el('span', severityMark(f.severity) + ' ', { class: 'mark' }),
        el('strong', f.subject + ': '), el('span', f.cause));
      if (f.fix) li.appendChild(el('div', 'fix: ' + f.fix, { class: 'fix' }));
      findings.appendChild(li);
    }

    const warnings = $('detail-warning-list');
    clear(warnings);
    for (const w of d.warnings) warnings.appendChild(el('li', w));
    $('detail-warnings').hidden = d.warnings.length === 0;
    $('detail-actions').hidden = !d.mayDecide;
    pendingWarnings = d.warnings;

    const fields = $('detail-fields');
    clear(fields);
    for (const f of d.description.fields) {
      fields.appendChild(el('dt', f.key));
      fields.appendChild(el('dd', f.value));
    }
    const ev = $('detail-events').tBodies[0];
    clear(ev);
    for (const e of d.description.events || []) {
      ev.appendChild(el('tr', null, {}, el('td', e.type), el('td', e.reason), el('td', e.age), el('td', e.message)));
    }
  }

  // onDetailChange follows the shown CSR as the queue stream reports it changed.
  function onDetailChange(c) {
    if (c.state !== currentState) showCSR(c.id);
  }

  let pendingWarnings = [];
  // confirmFor is the CSR (id and uid) the open confirmation is about.
  let confirmFor = null;
  function askConfirm(warnings, id, uid) {
    confirmFor = { id, uid };
    $('confirm-name').textContent = $('detail-name').textContent;
    const list = $('confirm-list');
    clear(list);
    for (const w of warnings) list.appendChild(el('li', w));
    $('confirm-panel').hidden = false;
    $('confirm-approve').focus();
  }

  async function decide(verb, body, id, uid) {
    $('detail-result').textContent = (verb === 'approve' ? 'Approving' : 'Denying') + '…';
    body.uid = uid;
    const res = await api('POST', '/api/csrs/' + encodeURIComponent(id) + '/' + verb, body);
    if (currentCSR !== id) return; // the page moved on to another CSR meanwhile
    if (res.status === 409 && res.data.warnings) {
      $('detail-result').textContent = '';
      askConfirm(res.data.warnings, id, uid);
      return;
    }
    $('confirm-panel').hidden = true;
    if (!res.ok) {
      $('detail-result').textContent = res.data.error;
      $('detail-result').className = 'result problem';
      return;
    }
    $('detail-result').className = 'result';
    $('detail-result').textContent = res.data.condition;
    showCSR(id);
  }

  $('approve').addEventListener('click', () => {
    if (pendingWarnings.length > 0) { askConfirm(pendingWarnings, currentCSR, currentUID); return; }
    decide('approve', { confirm: false }, currentCSR, currentUID);
  });
  $('confirm-approve').addEventListener('click', () => {
    const c = confirmFor;
    if (!c || c.id !== currentCSR) { $('confirm-panel').hidden = true; return; }
    decide('approve', { confirm: true }, c.id, c.uid);
  });
  $('confirm-cancel').addEventListener('click', () => { $('confirm-panel').hidden = true; });
  $('deny').addEventListener('click', () => {
    const message = $('deny-message').value.trim();
    if (!message) {
      $('detail-result').textContent = 'Say why it is denied: the requester reads it.';
      $('detail-result').className = 'result problem';
      $('deny-message').focus();
      return;
    }
    decide('deny', { message }, currentCSR, currentUID);
  });

  // ---- inventory ----
  let invContinue = '';
  let revokeTarget = null;

  function renderCertificateRow(c) {
    const revocation = c.revocation ? c.revocation.reason + (c.revocation.message ? ': ' + c.revocation.message : '') + ' (by ' + c.revocation.by + ')' : '';
    const stateCell = el('td', null, { class: 'state' }, el('span', c.state, { class: 'badge state-' + c.state }));
    if (revocation) stateCell.appendChild(el('div', revocation, { class: 'muted' }));
    if (c.upstream && c.revocation) stateCell.appendChild(el('div', c.upstreamRevocation || ('asking ' + c.upstream + ' to revoke it…'), { class: 'muted' }));
    const action = el('td');
    if (session.revoke && c.state !== 'revoked') {
      const b = el('button', 'Revoke', { type: 'button', class: 'revoke deny' });
      b.addEventListener('click', () => openRevoke(c));
      action.appendChild(b);
    }
    return el('tr', null, { 'data-id': c.id },
      el('td', c.serial, { class: 'mono' }),
      el('td', null, {}, el('div', 'CN=' + c.cn), el('div', c.o ? 'O=' + c.o : '', { class: 'muted' })),
      el('td', null, {}, el('div', c.signer), el('div', c.upstream ? 'issued by ' + c.upstream : '', { class: 'muted' })), el('td', c.csr), el('td', c.notAfter), stateCell, action);
  }

  async function searchInventory(more) {
    const params = new URLSearchParams({ by: $('inv-by').value, q: $('inv-q').value.trim(), state: $('inv-state').value });
    if (more) params.set('continue', invContinue);
    const res = await api('GET', '/api/certificates?' + params.toString());
    const body = $('inv-body');
    if (!more) clear(body);
    if (!res.ok) {
      status(res.data.error, 'problem');
      return;
    }
    for (const c of res.data.items) body.appendChild(renderCertificateRow(c));
    invContinue = res.data.continue || '';
    $('inv-more').hidden = !invContinue;
    $('inv-empty').hidden = body.rows.length > 0;
    status('');
  }

  function openRevoke(c) {
    revokeTarget = c;
    $('revoke-serial').textContent = c.serial;
    $('revoke-subject').textContent = 'CN=' + c.cn;
    $('revoke-message').value = '';
    $('revoke-panel').hidden = false;
    $('revoke-reason').focus();
  }

  $('revoke-cancel').addEventListener('click', () => { $('revoke-panel').hidden = true; });
  $('revoke-confirm').addEventListener('click', async () => {
    const c = revokeTarget;
    const res = await api('POST', '/api/certificates/' + encodeURIComponent(c.id) + '/revoke',
      { reason: $('revoke-reason').value, message: $('revoke-message').value.trim() });
    $('revoke-panel').hidden = true;
    if (!res.ok) { status(res.data.error, 'problem'); return; }
    const row = [...$('inv-body').rows].find((r) => r.getAttribute('data-id') === c.id);
    if (row) row.replaceWith(renderCertificateRow(res.data));
    status('Revoked certificate ' + res.data.serial + ' (' + res.data.revocation.reason + ')', 'live');
  });
  $('inv-form').addEventListener('submit', (ev) => { ev.preventDefault(); searchInventory(false); });
  $('inv-more').addEventListener('click', () => searchInventory(true));

  // ---- charts ----
  const SVG = 'http://www.w3.org/2000/svg';
  const palette = ['#2f6fbf', '#d9822b', '#3a9d5d', '#b03a48', '#7b5ea7', '#4aa3a3', '#a68a2b', '#666'];
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }

  // barChart draws stacked bars: labels along x, series [{name, values, color}].
  function barChart(container, labels, series, labelEvery, formatLabel) {
    clear(container);
    const W = 900, H = 240, left = 40, bottom = 40, top = 10;
    const totals = labels.map((_, i) => series.reduce((n, s) => n + s.values[i], 0));
    const max = Math.max(1, ...totals);
    const bw = (W - left - 10) / labels.length;
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'bars' });
    const title = svg('title');
    title.textContent = container.getAttribute('data-title') || '';
    root.appendChild(title);
    const scale = (H - bottom - top) / max;
    for (let t = 0; t <= 4; t++) {
      const v = Math.round(max * t / 4);
      const y = H - bottom - v * scale;
      root.appendChild(svg('line', { x1: left, x2: W - 10, y1: y, y2: y, class: 'grid' }));
      const tx = svg('text', { x: left - 4, y: y + 4, 'text-anchor': 'end', class: 'axis' });
      tx.textContent = String(v);
      root.appendChild(tx);
    }
    labels.forEach((label, i) => {
      let y = H - bottom;
      for (const s of series) {
        const v = s.values[i];
        if (!v) continue;
        const h = v * scale;
        y -= h;
        const r = svg('rect', { x: left + i * bw + 1, y, width: Math.max(1, bw - 2), height: h, fill: s.color, 'data-series': s.name, 'data-value': v });
        const t = svg('title');
        t.textContent = formatLabel(label) + ': ' + v + ' ' + s.name;
        r.appendChild(t);
        root.appendChild(r);
      }
      if (i % labelEvery === 0) {
        const tx = svg('text', { x: left + i * bw + bw / 2, y: H - bottom + 16, 'text-anchor': 'middle', class: 'axis' });
        tx.textContent = formatLabel(label);
        root.appendChild(tx);
      }
    });
    container.appendChild(root);
  }

  function legend(node, series) {
    clear(node);
    for (const s of series) {
      const swatch = el('span', null, { class: 'swatch' });
      swatch.style.background = s.color;
      node.appendChild(el('span', null, { class: 'legend-item' }, swatch, el('span', s.name + ' (' + s.values.reduce((a, b) => a + b, 0) + ')')));
    }
  }

  async function showCharts() {
    const res = await api('GET', '/api/charts');
    if (!res.ok) { status(res.data.error, 'problem'); return; }
    const c = res.data;
    const signers = Object.keys(c.expiring).sort();
    const exp = signers.map((s, i) => ({ name: s, values: c.expiring[s], color: palette[i % palette.length] }));
    barChart($('chart-expiring'), c.days, exp, 7, (d) => d.slice(5));
    legend($('legend-expiring'), exp);
    const act = [
      { name: 'issued', values: c.issued, color: palette[2] },
      { name: 'denied', values: c.denied, color: palette[3] },
    ];
    barChart($('chart-activity'), c.hours, act, 3, (h) => h.slice(11, 16));
    legend($('legend-activity'), act);
    let note = 'As of ' + c.asOf + '. ';
    if (!c.inventory) note += 'This API server keeps no inventory: no expiries or issuance to show. ';
    else note += c.scanned + ' inventory records read' + (c.truncated ? ' (the first ones only: the inventory holds more)' : '') + '. ';
    note += 'Denials are those the console has seen: the cleaner deletes a denied CSR an hour after its denial.';
    $('chart-note').textContent = note;
  }

  // ---- views ----
  function route() {
    const h = location.hash || '#queue';
    for (const v of document.querySelectorAll('.view')) v.hidden = true;
    for (const a of document.querySelectorAll('nav a')) a.classList.remove('current');
    if (h.startsWith('#csr/')) {
      $('view-csr').hidden = false;
      let id = '';
      try { id = decodeURIComponent(h.slice(5)); } catch (e) { status('Not a CSR address: ' + h, 'problem'); return; }
      showCSR(id);
      return;
    }
    currentCSR = null;
    if (h === '#inventory' && session.inventory) {
      $('view-inventory').hidden = false;
      $('nav-inventory').classList.add('current');
      searchInventory(false);
    } else if (h === '#charts') {
      $('view-charts').hidden = false;
      $('nav-charts').classList.add('current');
      showCharts();
    } else {
      $('view-queue').hidden = false;
      $('nav-queue').classList.add('current');
    }
  }

  for (const id of ['filter-state', 'filter-signer', 'filter-sort']) $(id).addEventListener('change', renderQueue);
  $('filter-requester').addEventListener('input', renderQueue);
  $('queue-filters').addEventListener('submit', (ev) => ev.preventDefault());
  window.addEventListener('hashchange', route);
  setInterval(() => { if (!$('view-queue').hidden) renderQueue(); }, 30000);

  (async function start() {
    const res = await api('GET', '/api/session');
    if (!res.ok) { status(res.data.error, 'problem'); return; }
    session = res.data;
    $('groups').textContent = session.groups && session.groups.length ? '(' + session.groups.join(', ') + ')' : '';
    $('nav-inventory').hidden = !session.inventory;
    if (!session.queue) {
      $('queue-error').textContent = session.queueError;
      $('queue-error').hidden = false;
    }
    const reasons = $('revoke-reason');
    for (const r of session.reasonCodes) reasons.appendChild(el('option', r, { value: r }));
    connectEvents();
    route();
  })();
})();
