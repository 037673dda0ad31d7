/* Support console: results as you type (newest request wins), keyboard navigation, the
   current ticket of the call, and clamped resolutions that expand on selection. */
(function () {
  'use strict';
  var KB = window.KB;
  var form = document.getElementById('search-form');
  var q = document.getElementById('q');
  var out = document.getElementById('results');

  // Similar resolved tickets for the current ticket: a request of its own, never per keystroke.
  function loadSimilar(id) {
    var slot = document.getElementById('similar-slot');
    if (!slot) return;
    if (id !== undefined) slot.setAttribute('data-src', id ? slot.getAttribute('data-base') + '?ticket=' + encodeURIComponent(id) : '');
    var src = slot.getAttribute('data-src');
    if (!src) { slot.innerHTML = ''; return; }
    fetch(src, { credentials: 'same-origin', headers: { 'X-Requested-With': 'fetch', 'Accept': 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : ''; })
      .then(function (html) { if (slot.getAttribute('data-src') === src) slot.innerHTML = html; })
      .catch(function () {});
  }
  loadSimilar();

  function setTicket(id) {
    loadSimilar(id);
    document.querySelectorAll('input[data-current-ticket]').forEach(function (i) { i.value = id || ''; });
    document.querySelectorAll('[data-needs-ticket]').forEach(function (b) {
      b.disabled = !id; b.title = id ? '' : KB.t('set_ticket_first');
    });
  }

  document.addEventListener('submit', function (e) {
    var f = e.target.closest('#ticket-form');
    if (!f) return;
    e.preventDefault();
    KB.post(f.action, new FormData(f)).then(function (res) {
      KB.toast(res.body.message || res.body.error, !res.ok);
      if (!res.ok) return;
      var card = document.getElementById('ticket-card');
      if (card && res.body.card) card.outerHTML = res.body.card;
      setTicket(res.body.ticket_id);
      if (q && !q.value.trim()) run();
    });
  });

  document.addEventListener('kb:done', function (e) {
    var card = document.getElementById('ticket-card');
    if (e.detail.ok && e.detail.body.card && card) card.outerHTML = e.detail.body.card;
  });

  function clamp(root) {
    (root || document).querySelectorAll('.resolution[data-clamp]').forEach(function (r) {
      var body = r.querySelector('.resolution-body'), more = r.querySelector('.more');
      if (body.scrollHeight > 200) { r.classList.add('is-clamped'); more.hidden = false; }
    });
  }
  document.addEventListener('click', function (e) {
    var more = e.target.closest('.resolution .more');
    if (!more) return;
    more.closest('.resolution').classList.remove('is-clamped'); more.hidden = true;
  });
  clamp();

  // A copy button on every code block of an article (staff pages): commands go into a shell as they are.
  function codeButtons(root) {
    (root || document).querySelectorAll('.prose .highlight').forEach(function (block) {
      if (block.querySelector('.copy-code')) return;
      var b = document.createElement('button');
      b.type = 'button'; b.className = 'copy-code'; b.textContent = KB.t('copy_code');
      block.appendChild(b);
    });
  }
  document.addEventListener('click', function (e) {
    var b = e.target.closest('.copy-code');
    if (!b) return;
    var code = b.parentNode.querySelector('code');
    KB.copy(code ? code.innerText.replace(/\n$/, '') : '').then(function () {
      b.textContent = KB.t('code_copied'); KB.toast(KB.t('code_copied'));
      setTimeout(function () { b.textContent = KB.t('copy_code'); }, 2000);
    }, function () { KB.toast(KB.t('copy_failed'), true); });
  });
  codeButtons();

  if (!form || !q || !out) return;
  var url = form.getAttribute('data-results-url');
  var seq = 0, timer = null, ctrl = null, sel = -1;

  function params() {
    var p = new URLSearchParams(new FormData(form));
    Array.from(p.keys()).forEach(function (k) { if (!p.get(k)) p.delete(k); });
    return p;
  }

  function run() {
    var p = params(), my = ++seq;
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    out.setAttribute('aria-busy', 'true');
    fetch(url + '?' + p.toString(), { credentials: 'same-origin', signal: ctrl.signal,
                                       headers: { 'X-Requested-With': 'fetch', 'Accept': 'text/html' } })
      .then(function (r) {
        if (!r.ok) {
          return r.json().catch(function () { return {}; }).then(function (b) {
            if (my === seq) KB.toast(b.error || r.statusText, true);
          });
        }
        return r.text().then(function (html) {
          if (my !== seq) return;              // a newer search was started meanwhile
          out.innerHTML = html; sel = -1; clamp(out); codeButtons(out);
          history.replaceState(null, '', '?' + p.toString());
        });
      })
      .catch(function (err) { if (err.name !== 'AbortError') KB.toast(KB.t('network'), true); })
      .then(function () { if (my === seq) out.setAttribute('aria-busy', 'false'); });
  }

  q.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(run, 80); });
  form.addEventListener('change', function (e) { if (e.target !== q) run(); });
  form.addEventListener('submit', function (e) { e.preventDefault(); clearTimeout(timer); run(); });
  out.addEventListener('click', function (e) {
    var a = e.target.closest('a[data-q]');
    if (a) { e.preventDefault(); q.value = a.getAttribute('data-q'); run(); }
  });

  function hits() { return Array.prototype.slice.call(out.querySelectorAll('.hit')); }
  function select(i) {
    var list = hits();
    list.forEach(function (h) { h.classList.remove('is-selected'); });
    if (i < 0 || !list.length) { sel = -1; q.focus(); return; }
    sel = Math.min(i, list.length - 1);
    var h = list[sel];
    h.classList.add('is-selected');
    var r = h.querySelector('.resolution');
    if (r) { r.classList.remove('is-clamped'); var m = r.querySelector('.more'); if (m) m.hidden = true; }
    h.focus({ preventScroll: true });
    h.scrollIntoView({ block: 'nearest' });
  }

  document.addEventListener('keydown', function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var el = e.target, tag = (el.tagName || '').toLowerCase();
    var typing = tag === 'input' || tag === 'textarea' || tag === 'select' || el.isContentEditable;
    var inResults = !typing && out.contains(el);
    if (e.key === '/' && !typing) { e.preventDefault(); q.focus(); q.select(); return; }
    if (e.key === 'Escape') { if (el !== q) { e.preventDefault(); select(-1); } return; }
    if (el !== q && !inResults) return;
    if (e.key === 'ArrowDown') { e.preventDefault(); select(sel + 1); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); select(sel - 1); }
    else if (e.key === 'Enter' && sel >= 0) {
      e.preventDefault();
      window.location.href = hits()[sel].getAttribute('data-url');
    } else if (inResults && sel >= 0) {
      var h = hits()[sel], k = e.key.toLowerCase(), b;
      if (k === 'l') { b = h.querySelector('form[data-action=link] button'); if (b && !b.disabled) { e.preventDefault(); b.click(); } }
      else if (k === 'c') { b = h.querySelector('[data-copy]'); if (b) { e.preventDefault(); b.click(); } }
      else if (k === 'f') {
        var d = h.querySelector('.flag-menu');
        if (d) { e.preventDefault(); d.setAttribute('open', ''); var first = d.querySelector('.menu-item'); if (first) first.focus(); }
      }
    }
  });
})();
