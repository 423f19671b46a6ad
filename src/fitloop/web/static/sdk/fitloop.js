/*! fitloop.js — the fitloop browser SDK. No dependencies. Apache-2.0.
 *
 * <script src="/sdk/fitloop.js" data-write-key="fl_..." defer></script>
 * fitloop.consent({analytics: true, personalisation: true});   // nothing is sent for a purpose before this
 * fitloop.track('cart_added', {item_id: 'sku-1', size: 'M', price: 29.9});
 *
 * Auto-capture on elements with data-fitloop-item="ITEM_ID" (optional data-fitloop-position,
 * data-fitloop-list, data-fitloop-surface="card|detail|buyer_show"):
 *   impression  visible >= 50 % for >= 1 s (once per element and page)
 *   product_clicked on click; dwell (ms visible) when the page is hidden; scroll depth 25/50/75/100 %.
 * Events are batched, retried with exponential backoff, kept in localStorage while offline
 * (only after consent), and flushed with navigator.sendBeacon when the page is hidden.
 * Global Privacy Control (navigator.globalPrivacyControl) withdraws the sharing/marketing purposes.
 * Consent choices are recorded in the server's consent ledger (POST /v1/consent) before events are sent.
 */
(function (window, document) {
  'use strict';
  if (window.fitloop && window.fitloop.__loaded) { return; }
  var VERSION = '0.1.0';
  var BEHAVIOUR = ['personalisation', 'analytics'];
  var PURPOSES = {
    impression: BEHAVIOUR, product_viewed: BEHAVIOUR, product_clicked: BEHAVIOUR, dwell: BEHAVIOUR,
    cart_added: BEHAVIOUR, cart_removed: BEHAVIOUR, favourited: BEHAVIOUR, search: BEHAVIOUR,
    order_completed: BEHAVIOUR, order_cancelled: ['analytics'], product_returned: BEHAVIOUR,
    scroll: ['analytics'], page: ['analytics'], identify: BEHAVIOUR,
    social_engagement: ['social'], photo_uploaded: ['photo_analysis']
  };
  // Purposes that Global Privacy Control withdraws (sale/sharing of data and marketing).
  var GPC_PURPOSES = ['social', 'marketing', 'marketing_email', 'marketing_push', 'advertising'];
  var K_AID = 'fitloop_aid', K_UID = 'fitloop_uid', K_CONSENT = 'fitloop_consent', K_QUEUE = 'fitloop_queue';
  var K_SYNCED = 'fitloop_consent_synced';
  var MAX_BATCH = 100, MAX_QUEUE = 2000, BEACON_LIMIT = 60000;

  var cfg = { writeKey: null, endpoint: '', flushAt: 20, flushIntervalMs: 2000, debug: false,
              impressionRatio: 0.5, impressionMs: 1000 };
  var st = { consent: {}, gpc: navigator.globalPrivacyControl === true, queue: [], aid: null, uid: null,
             flushTimer: null, retryTimer: null, backoff: 0, inflight: null, seen: {}, maxDepth: 0,
             depthSent: {}, observer: null, els: [], started: false, sent: 0, consentSync: null, consentRetry: 0 };

  function log() { if (cfg.debug && window.console) { console.log.apply(console, ['[fitloop]'].concat([].slice.call(arguments))); } }
  function now() { return Date.now(); }
  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16); (window.crypto || {}).getRandomValues ? crypto.getRandomValues(b) : b.forEach(function (_, i) { b[i] = Math.random() * 256; });
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }
  function store(k, v) { try { if (v === null) { localStorage.removeItem(k); } else { localStorage.setItem(k, v); } } catch (e) { /* private mode */ } }
  function load(k) { try { return localStorage.getItem(k); } catch (e) { return null; } }

  function allowed(p) { return st.consent[p] === true && !(st.gpc && GPC_PURPOSES.indexOf(p) >= 0); }
  function grantedMap() {
    var out = {};
    Object.keys(st.consent).forEach(function (p) { if (allowed(p)) { out[p] = true; } });
    return out;
  }
  function anyGranted() { return Object.keys(grantedMap()).length > 0; }
  function purposesOf(msg) { return msg._purposes || PURPOSES[msg.event || msg.type] || ['analytics']; }
  function permitted(purposes) { return purposes.some(allowed); }

  // Identifiers and the queue touch the device's storage only once the shopper consented to something.
  function persist() {
    if (!anyGranted()) { return; }
    store(K_AID, st.aid);
    if (st.uid) { store(K_UID, st.uid); }
    store(K_QUEUE, JSON.stringify(st.queue.slice(-MAX_QUEUE)));
  }

  function enqueue(msg, purposes) {
    if (!permitted(purposes)) { log('dropped (no consent for', purposes.join('/'), ')', msg.event || msg.type); return false; }
    msg.messageId = uuid();
    msg.anonymousId = st.aid;
    if (st.uid) { msg.userId = st.uid; }
    msg.timestamp = new Date().toISOString();
    msg.context = { library: { name: 'fitloop.js', version: VERSION }, consent: grantedMap(), gpc: st.gpc,
                    page: { path: location.pathname, title: document.title } };
    msg._purposes = purposes;
    st.queue.push(msg);
    if (st.queue.length > MAX_QUEUE) { st.queue.splice(0, st.queue.length - MAX_QUEUE); }
    persist();
    if (st.queue.length >= cfg.flushAt) { flush(); } else { schedule(); }
    return true;
  }

  function schedule() {
    if (st.flushTimer || st.retryTimer) { return; }
    st.flushTimer = setTimeout(function () { st.flushTimer = null; flush(); }, cfg.flushIntervalMs);
  }

  function wire(batch) {
    var clean = batch.map(function (m) { var c = {}; Object.keys(m).forEach(function (k) { if (k !== '_purposes') { c[k] = m[k]; } }); return c; });
    return JSON.stringify({ batch: clean, sentAt: new Date().toISOString(), writeKey: cfg.writeKey });
  }
  function removeSent(batch) {
    var ids = {}; batch.forEach(function (m) { ids[m.messageId] = true; });
    st.queue = st.queue.filter(function (m) { return !ids[m.messageId]; });
    st.sent += batch.length;
    if (anyGranted()) { store(K_QUEUE, JSON.stringify(st.queue)); }
  }
  function url() { return cfg.endpoint.replace(/\/$/, '') + '/v1/batch'; }

  // The shopper's choices go to the server's consent ledger (POST /v1/consent) before any event that
  // relies on them: the privacy gate checks the ledger, not what an event claims. Events wait meanwhile.
  function choices() {
    var out = {};
    Object.keys(st.consent).forEach(function (p) { out[p] = allowed(p); });
    return out;
  }
  function syncConsent() {
    var c = choices();
    if (!Object.keys(c).length) { return; }
    var body = JSON.stringify({ user_id: st.aid, purposes: c, source: 'sdk' });
    if (load(K_SYNCED) === body) { return; }
    var mine = fetch(cfg.endpoint.replace(/\/$/, '') + '/v1/consent', { method: 'POST', body: body, keepalive: true,
                     credentials: 'omit', headers: { 'Content-Type': 'application/json' } })
      .then(function (res) {
        if (!res.ok) { throw new Error('HTTP ' + res.status); }
        if (anyGranted()) { store(K_SYNCED, body); }
        st.consentRetry = 0;
      })
      .catch(function (err) {
        st.consentRetry = Math.min(Math.max(1000, st.consentRetry * 2), 60000);
        log('consent not recorded (' + err + '), retrying in', st.consentRetry, 'ms');
        setTimeout(syncConsent, st.consentRetry);
        throw err;
      })
      .then(function () { if (st.consentSync === mine) { st.consentSync = null; } flush(); }, function () {});
    st.consentSync = mine;
  }

  function flush(beacon) {
    if (!cfg.writeKey || !st.queue.length || st.consentSync) { return; }
    var batch = st.queue.filter(function (m) { return permitted(purposesOf(m)); }).slice(0, MAX_BATCH);
    if (!batch.length) { st.queue = []; return; }
    var body = wire(batch);
    if (beacon && navigator.sendBeacon && body.length < BEACON_LIMIT) {
      // text/plain keeps the beacon a "simple" cross-origin request (no preflight); the key is in the body.
      if (navigator.sendBeacon(url(), new Blob([body], { type: 'text/plain' }))) { removeSent(batch); return; }
    }
    if (st.inflight || (!beacon && navigator.onLine === false)) { return; }
    st.inflight = batch;
    fetch(url(), { method: 'POST', body: body, headers: { 'Content-Type': 'text/plain' }, credentials: 'omit',
                   keepalive: body.length < BEACON_LIMIT })
      .then(function (res) {
        if (res.ok) { removeSent(batch); st.backoff = 0; return; }
        if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
          // The server refused the batch for good (bad key, too large): retrying cannot help.
          if (window.console) { console.warn('[fitloop] batch refused with HTTP ' + res.status); }
          removeSent(batch); return;
        }
        throw new Error('HTTP ' + res.status);
      })
      .catch(function (err) {
        st.backoff = Math.min(Math.max(1000, st.backoff * 2), 60000);
        var wait = st.backoff / 2 + Math.random() * st.backoff / 2;
        log('send failed (' + err + '), retrying in', Math.round(wait), 'ms');
        clearTimeout(st.retryTimer);
        st.retryTimer = setTimeout(function () { st.retryTimer = null; flush(); }, wait);
      })
      .then(function () {
        st.inflight = null;
        if (st.queue.length && !st.retryTimer) { if (st.queue.length >= cfg.flushAt) { flush(); } else { schedule(); } }
      });
  }

  // ------------------------------------------------------------------ auto-capture
  function itemProps(el) {
    var p = { item_id: el.getAttribute('data-fitloop-item') };
    var pos = el.getAttribute('data-fitloop-position');
    if (pos !== null && pos !== '' && !isNaN(+pos)) { p.position = +pos; }
    var list = el.getAttribute('data-fitloop-list'); if (list) { p.list_id = list; }
    return p;
  }
  function surface(el) { return el.getAttribute('data-fitloop-surface') || 'card'; }
  function info(el) {
    if (!el.__fitloop) { el.__fitloop = { since: null, dwell: 0, impressed: false, timer: null }; }
    return el.__fitloop;
  }
  function visible(el, on) {
    var s = info(el);
    if (on && s.since === null) {
      s.since = now();
      if (!s.impressed && surface(el) === 'card') {
        s.timer = setTimeout(function () {
          s.timer = null;
          if (s.since !== null && !s.impressed) {
            s.impressed = true;
            var p = itemProps(el); p.visible_ms = now() - s.since;
            enqueue({ type: 'track', event: 'impression', properties: p }, PURPOSES.impression);
          }
        }, cfg.impressionMs);
      }
    } else if (!on && s.since !== null) {
      s.dwell += now() - s.since; s.since = null;
      if (s.timer) { clearTimeout(s.timer); s.timer = null; }
    }
  }
  function observe(root) {
    var els = (root || document).querySelectorAll('[data-fitloop-item]');
    for (var i = 0; i < els.length; i++) {
      if (els[i].__fitloopObserved) { continue; }
      els[i].__fitloopObserved = true; st.els.push(els[i]);
      if (st.observer) { st.observer.observe(els[i]); }
    }
  }
  function flushDwell() {
    st.els.forEach(function (el) {
      var s = info(el);
      var ms = s.dwell + (s.since !== null ? now() - s.since : 0);
      if (s.since !== null) { s.since = now(); }
      s.dwell = 0;
      if (ms >= cfg.impressionMs) {
        var p = { item_id: el.getAttribute('data-fitloop-item'), dwell_ms: Math.round(ms), surface: surface(el), path: location.pathname };
        enqueue({ type: 'track', event: 'dwell', properties: p }, PURPOSES.dwell);
      }
    });
  }
  function onScroll() {
    var h = Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0);
    var depth = h <= window.innerHeight ? 100 : Math.min(100, Math.round((window.scrollY + window.innerHeight) / h * 100));
    if (depth <= st.maxDepth) { return; }
    st.maxDepth = depth;
    [25, 50, 75, 100].forEach(function (t) {
      if (depth >= t && !st.depthSent[t]) {
        st.depthSent[t] = true;
        enqueue({ type: 'track', event: 'scroll', properties: { depth_pct: t, path: location.pathname } }, PURPOSES.scroll);
      }
    });
  }
  function onClick(e) {
    var el = e.target && e.target.closest ? e.target.closest('[data-fitloop-item]') : null;
    if (!el || surface(el) !== 'card') { return; }
    enqueue({ type: 'track', event: 'product_clicked', properties: itemProps(el) }, PURPOSES.product_clicked);
    flush(true); // the click usually navigates away: send now
  }
  function onHide() { flushDwell(); flush(true); }

  function start() {
    if (st.started) { return; }
    st.started = true;
    if ('IntersectionObserver' in window) {
      st.observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (en) { visible(en.target, en.isIntersecting && en.intersectionRatio >= cfg.impressionRatio); });
      }, { threshold: [0, cfg.impressionRatio, 1] });
    }
    observe(document);
    if ('MutationObserver' in window) { new MutationObserver(function () { observe(document); }).observe(document.documentElement, { childList: true, subtree: true }); }
    document.addEventListener('click', onClick, true);
    window.addEventListener('scroll', onScroll, { passive: true });
    window.addEventListener('pagehide', onHide);
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'hidden') { onHide(); } else { st.els.forEach(function (el) { var s = info(el); if (s.since !== null) { s.since = now(); } }); }
    });
    window.addEventListener('online', function () { st.backoff = 0; clearTimeout(st.retryTimer); st.retryTimer = null; flush(); });
  }

  // ------------------------------------------------------------------ public API
  var api = {
    __loaded: true,
    VERSION: VERSION,
    init: function (options) {
      Object.keys(options || {}).forEach(function (k) { cfg[k] = options[k]; });
      var saved = load(K_CONSENT);
      if (saved) { try { st.consent = JSON.parse(saved) || {}; } catch (e) { st.consent = {}; } }
      st.aid = load(K_AID) || st.aid || uuid();
      st.uid = load(K_UID) || st.uid;
      var q = load(K_QUEUE);
      if (q && anyGranted()) { try { st.queue = JSON.parse(q) || []; } catch (e) { st.queue = []; } }
      if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', start); } else { start(); }
      if (anyGranted()) { syncConsent(); }  // a no-op when this exact choice was already recorded
      if (st.queue.length) { schedule(); }
      return api;
    },
    /** Grant or withdraw purposes, e.g. {analytics: true, personalisation: false}. */
    consent: function (choices) {
      Object.keys(choices || {}).forEach(function (p) { st.consent[p] = choices[p] === true; });
      if (anyGranted()) { store(K_CONSENT, JSON.stringify(st.consent)); persist(); } else {
        [K_CONSENT, K_AID, K_UID, K_QUEUE, K_SYNCED].forEach(function (k) { store(k, null); });
      }
      st.queue = st.queue.filter(function (m) { return permitted(purposesOf(m)); });
      syncConsent();
      return grantedMap();
    },
    track: function (event, properties, options) {
      var purposes = (options && options.purposes) || PURPOSES[event] || ['analytics'];
      return enqueue({ type: 'track', event: event, properties: properties || {} }, purposes);
    },
    page: function (properties) {
      var p = properties || { path: location.pathname, title: document.title };
      return enqueue({ type: 'page', properties: p }, PURPOSES.page);
    },
    identify: function (userId, traits) {
      st.uid = String(userId);
      persist();
      return enqueue({ type: 'identify', traits: traits || {} }, PURPOSES.identify);
    },
    reset: function () { st.uid = null; st.aid = uuid(); store(K_UID, null); persist(); },
    flush: function () { flushDwell(); flush(); },
    anonymousId: function () { return st.aid; },
    userId: function () { return st.uid; },
    gpc: function () { return st.gpc; },
    granted: grantedMap,
    queueLength: function () { return st.queue.length; },
    sentCount: function () { return st.sent; }
  };
  window.fitloop = api;

  var script = document.currentScript;
  if (script && script.getAttribute('data-write-key')) {
    api.init({ writeKey: script.getAttribute('data-write-key'), endpoint: script.getAttribute('data-endpoint') || '',
               debug: script.getAttribute('data-debug') === 'true' });
  }
})(window, document);
