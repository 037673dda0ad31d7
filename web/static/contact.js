/* The request form answers first: articles that may solve the problem appear while the customer
   types the subject and description (debounced, announced by a polite live region); one opens in
   place; "Yes, it is solved" counts a deflection and ends the request; "No" goes back to the form,
   everything kept. Without this script the form shows the same articles after "Continue". */
(function () {
  'use strict';
  var KB = window.KB;
  var form = document.querySelector('form.contact-form');
  if (!form) return;
  var subject = form.querySelector('#subject'), description = form.querySelector('#description');
  var status = document.querySelector('[data-status]'), list = document.querySelector('[data-answers]');
  var reader = document.querySelector('[data-reader]'), current = null, seq = 0, timer = null, lastText = '';

  var problems = document.getElementById('form-errors');      // announced (role=alert) and focused
  if (problems) problems.focus();

  function esc(s) { var d = document.createElement('div'); d.textContent = s == null ? '' : s; return d.innerHTML; }

  // With the articles shown as one types, the button sends the request directly.
  var button = form.querySelector('button[name=action]');
  if (button && button.value === 'continue') {
    button.value = 'submit';
    button.querySelector('span').textContent = button.getAttribute('data-send');
    var note = button.parentNode.querySelector('.muted');
    if (note) note.textContent = '';
  }

  function load() {
    var text = (subject.value + ' ' + description.value).trim(), my = ++seq;
    if (text === lastText) return;
    lastText = text;
    if (text.length < 3) { list.innerHTML = ''; return; }
    var p = new URLSearchParams({ subject: subject.value, description: description.value.slice(0, 2000) });
    fetch(form.getAttribute('data-suggest') + '?' + p.toString(), { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) {
        if (!d || my !== seq) return;
        list.innerHTML = d.results.map(function (a) {
          return '<li class="answer"><button type="button" class="answer-open" data-open="' + esc(a.open) + '">' +
            esc(a.title) + '</button> <span class="pill">' + (a.language === 'zh' ? '中文' : 'EN') + '</span>' +
            '<p class="muted small">' + esc(a.summary) + '</p></li>';
        }).join('');
        status.textContent = d.announce;
      })
      .catch(function () { /* articles are a help, not a step: the form still sends */ });
  }
  [subject, description].forEach(function (el) {
    el.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(load, 400); });
  });
  if ((subject.value + description.value).trim()) load();

  list.addEventListener('click', function (e) {
    var b = e.target.closest('[data-open]');
    if (!b) return;
    fetch(b.getAttribute('data-open'), { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (a) {
        if (!a) return;
        current = a.id;
        reader.querySelector('[data-reader-title]').textContent = a.title;
        reader.querySelector('[data-reader-body]').innerHTML = a.html;   // rendered and sanitised by kb
        reader.hidden = false;
        reader.focus();
        reader.scrollIntoView({ block: 'start' });
      });
  });

  reader.querySelector('[data-solved-no]').addEventListener('click', function () {
    reader.hidden = true;
    current = null;
    description.focus();
  });
  reader.querySelector('[data-solved-yes]').addEventListener('click', function () {
    var data = new FormData();
    data.set('article', current);
    KB.post(form.getAttribute('data-solved'), data).then(function (res) {
      if (!res.ok) { KB.toast(res.body.error || res.body.message, true); return; }
      var main = document.querySelector('.contact');
      main.innerHTML = '<section class="card contact-done" role="status" tabindex="-1"><h1>' + esc(res.body.message) +
        '</h1><p><a href="' + esc(document.querySelector('.portal-brand').getAttribute('href')) + '">' +
        esc(KB.t('back_to_help')) + '</a></p></section>';
      main.querySelector('section').focus();
    });
  });
})();
