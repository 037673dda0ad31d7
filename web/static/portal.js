/* Help center: article suggestions while typing, and "Was this helpful?" in place. */
(function () {
  'use strict';
  var KB = window.KB;

  function esc(s) { var d = document.createElement('div'); d.textContent = s == null ? '' : s; return d.innerHTML; }

  document.querySelectorAll('form.portal-search[data-suggest]').forEach(function (form) {
    var input = form.querySelector('input[name=q]'), list = form.querySelector('.suggestions');
    var seq = 0, timer = null, active = -1, items = [];
    function close() { list.hidden = true; input.setAttribute('aria-expanded', 'false'); active = -1; }
    function mark() {
      Array.prototype.forEach.call(list.children, function (li, i) { li.setAttribute('aria-selected', i === active ? 'true' : 'false'); });
    }
    function render(found, text) {
      items = found;
      var html = found.map(function (s) {
        return '<li role="option"><a href="' + esc(s.url) + '"><span>' + esc(s.title) + '</span><span class="sugg-meta">' +
          (s.language === 'zh' ? '中文' : 'EN') + '</span></a></li>';
      }).join('');
      html += '<li role="option" class="sugg-all"><a href="' + esc(form.action) + '?' + esc(new URLSearchParams(new FormData(form)).toString()) +
        '">' + esc(KB.t('all_results').replace('{q}', text)) + '</a></li>';
      list.innerHTML = html; list.hidden = false; active = -1;
      input.setAttribute('aria-expanded', 'true');
    }
    function load() {
      var text = input.value.trim(), my = ++seq;
      if (text.length < 2) { close(); return; }
      var p = new URLSearchParams({ q: text, limit: '6' });
      if (form.getAttribute('data-product')) p.set('product', form.getAttribute('data-product'));
      fetch(form.getAttribute('data-suggest') + '?' + p.toString(), { credentials: 'same-origin' })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) { if (my === seq && d && document.activeElement === input) render(d.suggestions, text); })
        .catch(function () { /* suggestions are optional */ });
    }
    input.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(load, 100); });
    input.addEventListener('keydown', function (e) {
      var n = list.children.length;
      if (list.hidden || !n) return;
      if (e.key === 'ArrowDown') { e.preventDefault(); active = (active + 1) % n; mark(); }
      else if (e.key === 'ArrowUp') { e.preventDefault(); active = active <= 0 ? n - 1 : active - 1; mark(); }
      else if (e.key === 'Enter' && active >= 0) { e.preventDefault(); window.location.href = list.children[active].querySelector('a').href; }
      else if (e.key === 'Escape') { close(); }
    });
    input.addEventListener('blur', function () { setTimeout(close, 150); });
  });

  document.addEventListener('keydown', function (e) {
    var tag = (e.target.tagName || '').toLowerCase();
    if (e.key === '/' && tag !== 'input' && tag !== 'textarea') {
      var s = document.querySelector('form.portal-search input[name=q]');
      if (s) { e.preventDefault(); s.focus(); }
    }
  });

  var fb = document.querySelector('.feedback-form');
  if (fb) {
    fb.addEventListener('submit', function (e) {
      e.preventDefault();
      var data = new FormData(fb);
      if (e.submitter && e.submitter.name) data.set(e.submitter.name, e.submitter.value);
      KB.post(fb.action, data).then(function (res) {
        if (!res.ok) { KB.toast(res.body.error, true); return; }
        if (!fb.classList.contains('is-voted') && !(data.get('comment') || '').trim()) {
          fb.classList.add('is-voted');
          var id = document.createElement('input');
          id.type = 'hidden'; id.name = 'feedback_id'; id.value = res.body.feedback_id;
          fb.appendChild(id);
          fb.querySelector('h2').textContent = KB.t('thanks_more');
          var ta = fb.querySelector('textarea'); if (ta) ta.focus();
        } else {
          var box = fb.closest('[data-feedback]');
          box.innerHTML = '<p class="feedback-thanks">' + esc(res.body.message) + '</p>';
        }
      });
    });
  }
})();
