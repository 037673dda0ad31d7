/* Shared by every page: CSRF-aware POST, toasts, copy to clipboard, one-click forms, menus. */
(function () {
  'use strict';
  document.documentElement.classList.add('js');
  var strings = {};
  try { strings = JSON.parse(document.getElementById('kb-i18n').textContent); } catch (e) { /* none */ }
  function t(key) { return strings[key] || key; }
  function csrf() { var m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ''; }

  var toastTimer = null;
  function toast(message, isError) {
    var el = document.getElementById('toast');
    if (!el || !message) return;
    el.textContent = message;
    el.classList.toggle('is-error', !!isError);
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.hidden = true; }, isError ? 6000 : 3000);
  }

  function post(url, data) {
    return fetch(url, {
      method: 'POST', body: data, credentials: 'same-origin',
      headers: { 'X-CSRFToken': csrf(), 'X-Requested-With': 'fetch', 'Accept': 'application/json' }
    }).then(function (r) {
      return r.json().catch(function () { return { error: r.status + ' ' + r.statusText }; })
        .then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
    }, function () { return { ok: false, status: 0, body: { error: t('network') } }; });
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var ta = document.createElement('textarea');
      ta.value = text; ta.setAttribute('readonly', ''); ta.style.position = 'fixed'; ta.style.opacity = '0';
      document.body.appendChild(ta); ta.select();
      var ok = document.execCommand('copy'); ta.remove();
      if (ok) { resolve(); } else { reject(new Error('copy')); }
    });
  }

  window.KB = { t: t, csrf: csrf, toast: toast, post: post, copy: copy };

  document.addEventListener('click', function (e) {
    var btn = e.target.closest('[data-copy]');
    if (btn) {
      e.preventDefault();
      copy(btn.getAttribute('data-copy')).then(function () {
        btn.classList.add('is-done'); toast(t('copied'));
        setTimeout(function () { btn.classList.remove('is-done'); }, 2000);
      }, function () { toast(t('copy_failed'), true); });
    }
    document.querySelectorAll('details.menu[open], details.why[open]').forEach(function (d) {
      if (!d.contains(e.target)) d.removeAttribute('open');
    });
  });

  // Forms marked data-action run in place: POST through fetch, answer in a toast.
  document.addEventListener('submit', function (e) {
    var form = e.target.closest('form[data-action]');
    if (!form) return;
    e.preventDefault();
    var data = new FormData(form);
    if (e.submitter && e.submitter.name) data.set(e.submitter.name, e.submitter.value);
    post(form.action, data).then(function (res) {
      toast(res.body.message || res.body.error, !res.ok);
      if (res.ok) {
        var main = form.querySelector('button[type=submit]:not(.menu-item)');
        if (main) main.classList.add('is-done');
        var menu = form.closest('details');
        if (menu) { menu.removeAttribute('open'); var c = form.querySelector('input[name=comment]'); if (c) c.value = ''; }
      }
      form.dispatchEvent(new CustomEvent('kb:done', { bubbles: true, detail: res }));
    });
  });

  document.addEventListener('change', function (e) {
    if (e.target.matches('select[data-autosubmit]')) e.target.form.submit();
  });
})();
