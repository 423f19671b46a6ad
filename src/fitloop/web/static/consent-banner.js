/*
 * fitloop consent panel for the demo shop (and any shop using fitloop.js).
 *
 * One checkbox per consent-based purpose, with the purpose's title and "why" from the server's manifest
 * (GET /v1/consent/{anonymousId}); nothing is pre-ticked: a box is ticked only when the shopper already
 * granted that purpose. Sensitive purposes (photos, precise location) are listed apart and are never part
 * of "accept" shortcuts. Purposes on another lawful basis are shown as "always on", without a box.
 * A "Privacy choices" button stays on every page so choices can be changed at any time.
 * Saving calls fitloop.consent({...}), which records the choices in the server's ledger (POST /v1/consent)
 * before any event that relies on them is sent; Sec-GPC is honoured by the SDK and by the server.
 *
 *   fitloopConsentPanel.open();   // show the panel
 */
(function (window, document) {
  'use strict';
  var panel = null;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) { e.textContent = text; }
    return e;
  }

  function row(name, p, checked) {
    var id = 'flc-' + name;
    var label = el('label', { 'class': 'flc-purpose', 'for': id });
    var box = el('input', { type: 'checkbox', id: id, 'data-purpose': name });
    box.checked = checked === true;
    var text = el('span');
    text.appendChild(el('strong', {}, p.title || name));
    text.appendChild(el('small', {}, p.why || ''));
    label.appendChild(box); label.appendChild(text);
    return label;
  }

  function close() { if (panel) { panel.remove(); panel = null; } }

  function save(choices, status) {
    window.fitloop.consent(choices);
    var banner = document.getElementById('consent-banner');
    if (banner) { banner.hidden = true; }
    status.textContent = 'Saved. You can change this at any time with "Privacy choices".';
    setTimeout(close, 900);
  }

  function render(purposes) {
    close();
    var granted = window.fitloop.granted ? window.fitloop.granted() : {};
    panel = el('section', { 'class': 'flc-panel', role: 'dialog', 'aria-label': 'Privacy choices', id: 'flc-panel' });
    panel.appendChild(el('h2', {}, 'Your privacy choices'));
    panel.appendChild(el('p', {}, 'Choose what this shop may use. Nothing is switched on until you say so.'));
    var normal = [], sensitive = [], necessary = [];
    Object.keys(purposes).forEach(function (name) {
      var p = purposes[name];
      if (!p.needs_consent) { necessary.push(name); } else if (p.sensitive) { sensitive.push(name); } else { normal.push(name); }
    });
    var isOn = function (name) { return granted[name] === true || (purposes[name].allowed === true && granted[name] !== false); };
    panel.appendChild(el('h3', {}, 'Optional'));
    normal.forEach(function (n) { panel.appendChild(row(n, purposes[n], isOn(n))); });
    if (sensitive.length) {
      panel.appendChild(el('h3', {}, 'Sensitive: each needs its own consent'));
      sensitive.forEach(function (n) { panel.appendChild(row(n, purposes[n], isOn(n))); });
    }
    if (necessary.length) {
      panel.appendChild(el('h3', {}, 'Always on (needed to run the shop)'));
      var ul = el('ul');
      necessary.forEach(function (n) { ul.appendChild(el('li', {}, purposes[n].title || n)); });
      panel.appendChild(ul);
    }
    var actions = el('div', { 'class': 'flc-actions' });
    var status = el('div', { 'class': 'flc-status', 'aria-live': 'polite' });
    var saveBtn = el('button', { type: 'button', id: 'flc-save' }, 'Save my choices');
    var rejectBtn = el('button', { type: 'button', id: 'flc-reject' }, 'Reject all optional');
    var cancelBtn = el('button', { type: 'button', id: 'flc-cancel' }, 'Close');
    saveBtn.onclick = function () {
      var c = {};
      panel.querySelectorAll('input[data-purpose]').forEach(function (b) { c[b.getAttribute('data-purpose')] = b.checked; });
      save(c, status);
    };
    rejectBtn.onclick = function () {
      var c = {};
      normal.concat(sensitive).forEach(function (n) { c[n] = false; });
      save(c, status);
    };
    cancelBtn.onclick = close;
    actions.appendChild(saveBtn); actions.appendChild(rejectBtn); actions.appendChild(cancelBtn);
    panel.appendChild(actions); panel.appendChild(status);
    document.body.appendChild(panel);
    var first = panel.querySelector('input'); if (first) { first.focus(); }
  }

  function open() {
    if (!window.fitloop) { return; }
    var url = '/v1/consent/' + encodeURIComponent(window.fitloop.anonymousId());
    fetch(url, { credentials: 'omit' }).then(function (r) { return r.json(); })
      .then(function (body) { render(body.purposes || {}); })
      .catch(function () { render({}); });
  }

  function mount() {
    if (document.getElementById('flc-open')) { return; }
    var btn = el('button', { type: 'button', 'class': 'flc-open', id: 'flc-open' }, 'Privacy choices');
    btn.onclick = open;
    document.body.appendChild(btn);
  }

  window.fitloopConsentPanel = { open: open, close: close, mount: mount };
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', mount); } else { mount(); }
})(window, document);
