/* Contribution pages: drafts saved while typing, search-before-create as the agent writes,
   undo of each customer-data replacement, live preview and diff of an edited article. */
(function () {
  'use strict';
  var KB = window.KB;

  function debounce(fn, ms) {
    var t = null;
    return function () { clearTimeout(t); t = setTimeout(fn, ms); };
  }

  function saver(form) {
    var url = form.getAttribute('data-draft-url'), status = form.querySelector('[data-draft-status]');
    if (!url) return function () {};
    return debounce(function () {
      KB.post(url, new FormData(form)).then(function (res) {
        if (status) status.textContent = res.ok ? res.body.message : (res.body.error || '');
      });
    }, 700);
  }

  // --- capture from a ticket --------------------------------------------------------------
  var capture = document.getElementById('capture-form');
  if (capture) {
    var save = saver(capture);
    var lang = capture.querySelector('[data-language]');
    var list = document.querySelector('[data-similar-list]');
    var tpl = document.getElementById('similar-item');
    var confirmBox = capture.querySelector('[data-duplicate-confirm]');
    var articleUrl = document.querySelector('[data-article-url]').getAttribute('data-article-url');
    var noneLabel = document.querySelector('[data-none-label]').getAttribute('data-none-label');
    var seq = 0;

    var headings = function () {
      capture.querySelectorAll('[data-heading]').forEach(function (h) {
        h.textContent = h.getAttribute('data-' + lang.value) || h.textContent;
      });
    };
    var similar = debounce(function () {
      var p = new URLSearchParams();
      p.set('title', capture.elements.title.value);
      p.set('text', capture.elements.symptoms.value + '\n' + capture.elements.resolution.value);
      p.set('language', lang.value);
      var my = ++seq;
      fetch(capture.getAttribute('data-similar-url') + '?' + p.toString(), {
        credentials: 'same-origin', headers: { 'Accept': 'application/json', 'X-Requested-With': 'fetch' }
      }).then(function (r) { return r.json(); }).then(function (body) {
        if (my !== seq || !body.results) return;
        list.textContent = '';
        var above = false;
        body.results.forEach(function (s) {
          var li = tpl.content.firstElementChild.cloneNode(true);
          var a = li.querySelector('a');
          a.href = articleUrl.replace('__slug__', s.slug); a.textContent = s.title;
          li.querySelector('.sim').textContent = Math.round(s.similarity * 100) + '%';
          li.querySelector('input[name=article_id]').value = s.id;
          li.querySelector('input[name=csrf_token]').value = KB.csrf();
          li.setAttribute('data-id', s.id);
          if (s.above) { li.classList.add('is-above'); above = true; }
          list.appendChild(li);
        });
        if (!body.results.length) { var li = document.createElement('li'); li.className = 'muted'; li.textContent = noneLabel; list.appendChild(li); }
        if (above || confirmBox.classList.contains('is-needed')) confirmBox.hidden = false; else confirmBox.hidden = true;
        var offer = capture.querySelector('[data-translation-offer]'), box = offer.querySelector('[data-translation-box]');
        var t = body.translation_of;
        if (t) {
          offer.querySelector('[data-translation-text]').textContent = offer.getAttribute('data-template')
            .replace('{id}', t.id).replace('{title}', t.title).replace('{p}', Math.round(t.similarity * 100));
          if (box.value !== t.id) { box.value = t.id; box.checked = false; }
          offer.hidden = false;
        } else if (!box.checked) { offer.hidden = true; }
      }, function () { /* the panel keeps its last answer */ });
    }, 400);

    capture.addEventListener('input', function (e) {
      save();
      if (e.target.hasAttribute('data-similar-source')) similar();
    });
    lang.addEventListener('change', function () { headings(); similar(); save(); });

    var scrubInput = capture.querySelector('[data-scrub]');
    capture.addEventListener('click', function (e) {
      var btn = e.target.closest('[data-undo]');
      if (!btn) return;
      var li = btn.closest('li'), ul = li.closest('[data-scrub-for]');
      var field = capture.elements[ul.getAttribute('data-scrub-for')];
      var ph = li.getAttribute('data-placeholder'), orig = li.getAttribute('data-original');
      var pos = parseInt(li.getAttribute('data-pos'), 10), v = field.value;
      if (v.substr(pos, ph.length) !== ph) pos = v.indexOf(ph);   // the text was edited around it
      if (pos < 0) { KB.toast(ph, true); return; }
      field.value = v.slice(0, pos) + orig + v.slice(pos + ph.length);
      ul.querySelectorAll('li').forEach(function (o) {
        var p = parseInt(o.getAttribute('data-pos'), 10);
        if (o !== li && p > pos) o.setAttribute('data-pos', p + orig.length - ph.length);
      });
      li.classList.add('is-undone'); btn.remove();
      try {
        var data = JSON.parse(scrubInput.value || '{}'), name = ul.getAttribute('data-scrub-for');
        data[name] = (data[name] || []).filter(function (r) { return String(r.i) !== li.getAttribute('data-i'); });
        scrubInput.value = JSON.stringify(data);
      } catch (err) { /* keep going: the text itself is what matters */ }
      save();
    });
    capture.addEventListener('submit', function () {
      var b = capture.querySelector('[type=submit]');
      setTimeout(function () { b.disabled = true; }, 0);     // one submit per click; the server is idempotent anyway
    });
  }

  // --- edit an article: live preview and diff ---------------------------------------------
  var edit = document.getElementById('improve-form');
  if (edit) {
    var saveEdit = saver(edit);
    var src = edit.querySelector('[data-preview-source]');
    var pane = edit.querySelector('[data-preview]'), err = edit.querySelector('[data-preview-error]');
    var diffBox = document.querySelector('[data-diff]');
    var pseq = 0;
    var preview = debounce(function () {
      var fd = new FormData();
      fd.set('markdown', src.value);
      if (edit.getAttribute('data-slug')) fd.set('slug', edit.getAttribute('data-slug'));
      if (edit.getAttribute('data-cid')) fd.set('cid', edit.getAttribute('data-cid'));
      if (edit.elements.kind) { fd.set('kind', edit.elements.kind.value); fd.set('target', edit.elements.target.value); }
      var my = ++pseq;
      KB.post(edit.getAttribute('data-preview-url'), fd).then(function (res) {
        if (my !== pseq || !res.ok) return;
        pane.innerHTML = res.body.html;           // sanitised on the server (nh3)
        err.hidden = !res.body.error; err.textContent = res.body.error || '';
        if (diffBox && res.body.diff) {
          diffBox.textContent = '';
          res.body.diff.forEach(function (d) {
            var s = document.createElement('span'); s.className = 'd-' + d[0]; s.textContent = d[1];
            diffBox.appendChild(s);
          });
        }
      });
    }, 300);
    src.addEventListener('input', function () { preview(); saveEdit(); });
  }

  // --- screenshots: paste into the text or choose files; the Markdown goes where the cursor is --
  var tray = document.querySelector('[data-image-tray]');
  if (tray) {
    var form = tray.closest('form');
    var status = tray.querySelector('[data-image-status]');
    var shotList = tray.querySelector('[data-shots]');
    var lastField = form.querySelector('textarea[name=resolution], textarea[name=markdown]');
    form.addEventListener('focusin', function (e) { if (e.target.tagName === 'TEXTAREA') lastField = e.target; });

    var insert = function (field, text) {
      var at = field.selectionStart != null ? field.selectionStart : field.value.length;
      var end = field.selectionEnd != null ? field.selectionEnd : at;
      var before = field.value.slice(0, at), lead = before && !/\n$/.test(before) ? '\n' : '';
      field.value = before + lead + text + '\n' + field.value.slice(end);
      field.selectionStart = field.selectionEnd = at + lead.length + text.length + 1;
      field.dispatchEvent(new Event('input', { bubbles: true }));     // autosave and preview follow
    };
    var upload = function (files, field) {
      files = Array.prototype.filter.call(files, function (f) { return /^image\//.test(f.type); });
      if (!files.length) return;
      var fd = new FormData();
      fd.set('kind', tray.getAttribute('data-kind')); fd.set('target', tray.getAttribute('data-target'));
      ['slug', 'title', 'language'].forEach(function (n) { if (form.elements[n]) fd.set(n, form.elements[n].value); });
      files.forEach(function (f) { fd.append('image', f, f.name || 'pasted.png'); });
      status.textContent = KB.t('uploading');
      KB.post(tray.getAttribute('data-upload-url'), fd).then(function (res) {
        status.textContent = res.ok ? res.body.message : '';
        if (!res.ok) { KB.toast(res.body.error, true); return; }
        res.body.images.forEach(function (img) {
          insert(field || lastField, img.markdown);
          var li = document.createElement('li'), a = document.createElement('a'), im = document.createElement('img');
          a.href = img.url; a.target = '_blank'; a.rel = 'noopener';
          im.src = img.url; im.alt = img.name; im.width = img.width; im.height = img.height;
          a.appendChild(im); li.appendChild(a);
          var n = document.createElement('span'); n.className = 'mono small'; n.textContent = ' ' + img.name;
          li.appendChild(n); shotList.appendChild(li);
        });
      });
    };
    tray.querySelector('[data-image-input]').addEventListener('change', function (e) {
      upload(e.target.files, lastField); e.target.value = '';
    });
    form.addEventListener('paste', function (e) {
      if (e.target.tagName !== 'TEXTAREA' || !e.clipboardData || !e.clipboardData.files.length) return;
      e.preventDefault();
      upload(e.clipboardData.files, e.target);
    });
  }
})();
