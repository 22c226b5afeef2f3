// The submission pages' script: progressive enhancement of the report and check-in forms
// (docs/submit-site.md, "JavaScript on"). Bundled with the crypto (js/page-entry.js) into the
// one script the pages load, with Subresource Integrity, no inline code; without it every page
// works as it is.
//
// Report: the code, the keys and the case id are made here; fields and files become one
// envelope (WhistleCrypto.writeSubmission); only the login token, the case id and the
// envelope are posted. Check-in: the token and keys are derived here; the server answers
// with the case's ciphertexts, opened here, replies checked against the pinned office key.
// Follow-up: signed here with the key derived from the code, and numbered (docs/protocol.md
// §7). Beside each report and follow-up goes the source's own copy of it, sealed here to a key
// derived from the code (js/copies.js), which the conversation shows once the office has
// collected the record itself. Before anything is sent, the keys the page was given are
// checked against the office card it was given, whose fingerprint is shown. Fail closed: if anything goes wrong (loading
// libsodium.js's files too) nothing is sent, the reason is shown, and a button offers the
// plain form (encryption on the server) explicitly — but only where this page's encryption is
// what failed: a code error, a busy server, a lost connection or a file too large each say what
// happened, and the plain form would fix none of them.
//
// Every text the page shows is kept as the name of a text of #sealed-texts (with its values),
// so that after a language switch (js/language.js) the page says it again in the new language.
import { load } from './whistle-crypto.js';
import { applyPage, fetchPage } from './language.js';
import { humanSize } from './sizes.js';

(function () {
  'use strict';

  var texts = document.getElementById('sealed-texts');
  if (!texts) return;
  var t = texts.dataset;
  var modeLine = document.getElementById('mode');
  var reportForm = document.getElementById('report-form');
  var checkinForm = document.getElementById('checkin-form');
  var form = reportForm || checkinForm;
  if (!form) return;

  // A text of the page: its name in #sealed-texts (or in another element's data-*, `holder`)
  // and the values of its {placeholders}.
  function text(name, values, holder) {
    return { name: name, values: values || {}, holder: holder };
  }
  function render(message) {
    var source = message.holder ? document.getElementById(message.holder).dataset : t;
    var shown = source[message.name] || '';
    Object.keys(message.values).forEach(function (key) {
      shown = shown.replace('{' + key + '}', String(message.values[key]));
    });
    return shown;
  }

  // What the page script wrote into an element, as a function that writes it again: after a
  // language switch each is called again, with the new texts.
  var painted = {};
  function paint(id, fill) {
    painted[id] = fill;
    var target = document.getElementById(id);
    if (target) fill(target);
  }
  function repaint() {
    Object.keys(painted).forEach(function (id) {
      var target = document.getElementById(id);
      if (target) painted[id](target);
    });
  }

  function say(message) {
    paint('mode', function (line) {
      line.textContent = render(message);
    });
  }

  var plainChosen = false;
  var busy = false;
  var failed = false;
  say(text('loading'));
  var loading = load();
  loading.then(
    function (api) {
      if (!failed) say(text('on'));
      document.documentElement.setAttribute('data-encryption', 'page');
      document.documentElement.setAttribute('data-crypto-mode', api.mode);
      try {
        checkCard(api); // shows the fingerprint now; checked again before anything is sent
      } catch (error) {
        say(error.text);
      }
    },
    function () {
      // libsodium.js's binary or fallback did not arrive or failed its hash, or the self-test
      // failed: this browser is not trusted to encrypt. Fail closed (review finding L2): the forms send nothing until the source
      // chooses the plain form with the button the error shows.
      say(text('unverified'));
      document.documentElement.setAttribute('data-encryption', 'unverified');
    },
  );

  var statusBox = document.getElementById('sealed-status');
  var errorBox = document.getElementById('sealed-error');
  var errorText = document.getElementById('sealed-error-text');
  var plainButton = document.getElementById('use-plain');
  var codeErrorBox = document.getElementById('code-error');

  // While something is being encrypted or sent, the form is locked and leaving asks first.
  var locked = [];
  function lock(target) {
    locked = Array.prototype.filter.call(target.elements, function (control) {
      return !control.disabled;
    });
    locked.forEach(function (control) {
      control.disabled = true;
    });
    target.setAttribute('aria-busy', 'true');
  }
  function unlock() {
    locked.forEach(function (control) {
      control.disabled = false;
    });
    locked = [];
    Array.prototype.forEach.call(document.querySelectorAll('form[aria-busy]'), function (target) {
      target.removeAttribute('aria-busy');
    });
  }
  // The receipt shows a code made in this page that exists nowhere else: until the source
  // confirms it is written down, leaving (a header or language link, closing) asks first.
  var codeOnScreen = false;
  // Text typed into the report or a message and not sent: leaving asks first too.
  var typed = false;
  [reportForm, document.getElementById('sealed-followup')].forEach(function (target) {
    if (!target) return;
    target.addEventListener('input', function () {
      typed = true;
    });
  });
  window.addEventListener('beforeunload', function (event) {
    if (!busy && !codeOnScreen && !typed) return undefined;
    event.preventDefault();
    event.returnValue = ''; // older browsers show their own question only when this is set
    return '';
  });

  // A code the check refuses, or one the server does not know, is the source's typo: said
  // beside the field, with the character marked, what was typed kept — never as an
  // encryption failure, and without offering the plain form.
  function codeMessage(error) {
    var where = function (name) {
      var position = error.position;
      return text(name, { g: Math.floor(position / 4) + 1, p: (position % 4) + 1 });
    };
    if (error.name === 'CodeChecksumError') {
      if (error.kind === 'wrong' && error.position !== null) return where('codeWrong');
      if (error.kind === 'swapped' && error.position !== null) return where('codeSwappedAt');
      if (error.kind === 'swapped') return text('codeSwapped');
      return text('codeMistyped');
    }
    if (error.position !== null && error.position !== undefined) return where('codeOutside');
    return text('codeFormat');
  }

  function showCodeError(message, error) {
    busy = false;
    unlock();
    var field = checkinForm.elements.code;
    var compact = field.value.replace(/[ \-\t\r\n\u00a0]/g, '').toUpperCase();
    paint('code-error', function (box) {
      box.querySelector('#code-error-text').textContent = render(message);
      markTyped(box.querySelector('#code-typed-js'), compact, error);
    });
    codeErrorBox.hidden = false;
    field.setAttribute('aria-invalid', 'true');
    field.focus();
  }

  // What was typed, grouped, with the character the check names marked.
  function markTyped(typed, compact, error) {
    typed.textContent = '';
    typed.hidden = true;
    if (error && error.position !== null && error.position !== undefined) {
      var width = error.kind === 'swapped' ? 2 : 1;
      var grouped = compact.replace(/(.{4})(?=.)/g, '$1 ');
      var at = error.position + Math.floor(error.position / 4);
      var last = error.position + width - 1;
      var to = last + Math.floor(last / 4) + 1;
      if (to <= grouped.length) {
        var shown = element('code');
        shown.appendChild(document.createTextNode(grouped.slice(0, at)));
        shown.appendChild(element('mark', grouped.slice(at, to)));
        shown.appendChild(document.createTextNode(grouped.slice(to)));
        typed.appendChild(document.createTextNode(t.typed + ' '));
        typed.appendChild(shown);
        typed.hidden = false;
      }
    }
  }

  // Beside the button that was pressed, so it is seen on a phone too; announced (role=alert)
  // and focused. The plain form is offered only when this page's encryption is what failed.
  function fail(error, button) {
    if (error && error.codeError) {
      showCodeError(error.text, error.codeError);
      return;
    }
    busy = false;
    unlock();
    var message = reasonFor(error);
    var offer = Boolean(error && error.plain) || !(error && error.text);
    if (offer) failed = true;
    paint('sealed-error-text', function (line) {
      line.textContent = offer ? t.failed + ' ' + render(message) : render(message);
    });
    plainButton.hidden = !offer;
    if (button) button.insertAdjacentElement('afterend', errorBox);
    statusBox.hidden = true;
    errorBox.hidden = false;
    if (offer) document.documentElement.setAttribute('data-encryption-failed', 'yes');
    errorBox.focus({ preventScroll: true });
    errorBox.scrollIntoView({ block: 'nearest' });
  }

  // Only the page's translated texts are shown: an error's own message is English (from the
  // crypto library or the browser), so it is chosen by its class name, never printed.
  function reasonFor(error) {
    if (error && error.text) return error.text;
    var name = error && error.name;
    if (name === 'CodeError' || name === 'CodeFormatError' || name === 'CodeChecksumError') return text('badCode');
    if (name === 'UnsupportedVersionError') return text('newer');
    return text('unexpected');
  }

  // An error the page explains in its own words; `plain`: the plain form may help.
  function userError(message, plain) {
    var error = new Error(message.name);
    error.text = message;
    error.plain = Boolean(plain);
    return error;
  }

  plainButton.addEventListener('click', function () {
    unlock();
    plainChosen = true;
    typed = false; // sending it is not leaving it
    errorBox.hidden = true;
    say(text('off'));
    if (reportForm) {
      // The plain form, as with JavaScript off: the server encrypts.
      HTMLFormElement.prototype.submit.call(reportForm);
    } else {
      HTMLFormElement.prototype.submit.call(checkinForm);
    }
  });

  function checkFiles(files) {
    var max = Number(form.dataset.maxBytes);
    var total = 0;
    for (var i = 0; i < files.length; i++) total += files[i].size;
    if (files.length > Number(form.dataset.maxFiles) || total > max) throw userError(text('tooLarge'));
    return total;
  }

  // --- progress: per file and in total, with the time left ---------------------------------

  function progress(files, button) {
    // Beside the button that started it, so it is on screen on a phone too.
    if (button) button.insertAdjacentElement('afterend', statusBox);
    var fileBar = document.getElementById('progress-file');
    var fileText = document.getElementById('progress-file-text');
    var totalBar = document.getElementById('progress-total');
    var totalText = document.getElementById('progress-total-text');
    var started = Date.now();
    fileBar.parentNode.hidden = !files.length;
    statusBox.hidden = false;
    statusBox.scrollIntoView({ block: 'nearest' });
    function show(phase, done, total) {
      totalBar.max = Math.max(total, 1);
      totalBar.value = done;
      var percent = total ? Math.floor((100 * done) / total) : 100;
      var text = phase + ': ' + percent + ' %';
      var elapsed = (Date.now() - started) / 1000;
      if (done > 0 && done < total && elapsed > 0.5) {
        text += ', ' + t.left.replace('{s}', String(Math.ceil((elapsed / done) * (total - done))));
      }
      totalText.textContent = text;
    }
    return {
      encrypting: function (done, total) {
        var before = 0;
        var index = 0;
        while (index < files.length - 1 && done >= before + files[index].size) {
          before += files[index].size;
          index += 1;
        }
        if (files.length) {
          var file = files[index];
          fileBar.max = Math.max(file.size, 1);
          fileBar.value = Math.min(done - before, file.size);
          fileText.textContent = file.name + ' (' + (index + 1) + '/' + files.length + ')';
        }
        show(t.encrypting, done, total);
      },
      sending: function (done, total) {
        // Every file is encrypted by now: only the total moves while sending.
        fileBar.parentNode.hidden = true;
        if (done === 0) started = Date.now();
        show(t.sending, done, total);
      },
    };
  }

  // --- posting ciphertext ---------------------------------------------------------------------

  // What each answer but 200 means, in the page's words (the server's own message is in the
  // language the page had when it was sent). `reason` is the server's (views/sealed.py); a
  // status without one may come from a proxy in front of it.
  function refusal(status, reason) {
    var error;
    if (status === 0) error = userError(text('connection'));
    else if (status === 413 || reason === 'too-large') error = userError(text('tooLarge'));
    else if (status === 429) error = userError(text('rateLimited'));
    else if (reason === 'expired') error = userError(text('expired'));
    else if (reason === 'full') error = userError(text('full'));
    else if (reason === 'keys-changed') error = userError(text('keysChanged'));
    else if (reason === 'case-key-changed') error = userError(text('caseKeyChanged'));
    else if (reason === 'unknown-code' || status === 404) error = userError(text('unknown'));
    else if (reason === 'busy') error = userError(text('busy'));
    else if (status === 503) error = userError(text('busySite'));
    else if (reason === 'malformed') error = userError(text('malformed'), true);
    else error = userError(text('refused', { s: status }));
    error.status = status;
    error.reason = reason;
    return error;
  }

  function postOnce(url, body, onUpload) {
    return new Promise(function (resolve, reject) {
      var request = new XMLHttpRequest();
      request.open('POST', url);
      request.setRequestHeader('Content-Type', 'application/octet-stream');
      request.setRequestHeader('X-CSRFToken', form.elements.csrf_token.value);
      request.responseType = 'json';
      if (onUpload) {
        request.upload.onprogress = function (event) {
          if (event.lengthComputable) onUpload(event.loaded, event.total);
        };
      }
      request.onload = function () {
        var answer = request.response || {};
        if (request.status === 200) resolve(answer);
        else reject(refusal(request.status, answer.reason));
      };
      request.onerror = function () {
        reject(refusal(0));
      };
      request.send(body);
    });
  }

  // An expired session (hours after the page was loaded) is renewed by fetching this page
  // again for its new CSRF token, and the same ciphertext sent once more: nothing typed is
  // lost. A page loaded before the office changed its keys takes the new ones the same way,
  // but what was encrypted to the old ones cannot be sent again: the source is asked to.
  function post(url, body, onUpload) {
    return postOnce(url, body, onUpload).catch(function (error) {
      if (error.reason !== 'expired' && error.reason !== 'keys-changed') throw error;
      return fetchPage(window.location.href).then(
        function (fetched) {
          var fresh = fetched.doc.querySelector('input[name=csrf_token]');
          if (error.reason === 'keys-changed') {
            applyPage(fetched, PARTS, [form.id, 'sealed-texts']);
            repaint();
            throw error;
          }
          if (!fresh) throw error;
          form.elements.csrf_token.value = fresh.value;
          return postOnce(url, body, onUpload);
        },
        function () {
          throw error;
        },
      );
    });
  }

  function withQuery(url, name, value) {
    return url + (url.indexOf('?') < 0 ? '?' : '&') + name + '=' + encodeURIComponent(String(value));
  }

  // The URL of a sealed route, announcing the size of the source's copy that precedes the
  // envelope in the body (views/sealed.py).
  function withCopy(url, copy) {
    return withQuery(url, 'copy', copy.length);
  }

  function fromBase64(text) {
    var raw = atob(text);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  // --- the report -------------------------------------------------------------------------------

  function collectFields() {
    var fields = [];
    var identification = [];
    var holders = reportForm.querySelectorAll('[data-key]');
    for (var i = 0; i < holders.length; i++) {
      var holder = holders[i];
      var value = reportForm.elements[holder.dataset.name].value.trim();
      if (holder.dataset.kind === 'line') value = value.split(/\s+/).filter(Boolean).join(' ');
      if (!value) continue;
      var entry = { key: holder.dataset.key, label: holder.dataset.label, value: value };
      (holder.dataset.identification ? identification : fields).push(entry);
    }
    return { fields: fields, identification: identification };
  }

  // Anonymous or identified, the category, the meeting request: the same checks and the same
  // values as the plain form (views/plain.py _choices), so the JSON is the same.
  function collectChoices(identification) {
    var elements = reportForm.elements;
    var identified = elements.identified.value === 'identified';
    var identity = document.getElementById('identity').dataset;
    if (!identified && identification.length) throw userError(text('anonymousError', {}, 'identity'));
    if (identified && !identification.length) throw userError(text('identifiedError', {}, 'identity'));
    var select = elements.category;
    var option = select && select.value ? select.options[select.selectedIndex] : null;
    var meeting = elements.meeting.checked;
    var availability = elements.availability.value.split(/\s+/).filter(Boolean).join(' ');
    if (availability && !meeting) {
      throw userError(text('availabilityError', {}, 'meeting-request'));
    }
    return {
      identified: identified,
      category: option ? { key: option.value, label: option.dataset.label } : null,
      meeting: meeting,
      availability: availability,
    };
  }

  // The keys this page was given must be those of the office card it was given, whose
  // signature must verify; the fingerprint shown is what the source compares with the one the
  // office publishes off the server (review finding H3). A mismatch sends nothing.
  function checkCard(api) {
    var data = form.dataset;
    var deskKeys = reportForm ? [api.fromHex(data.deskKey)] : data.deskKeys.split(',').map(api.fromHex);
    var custodianKey = reportForm ? api.fromHex(data.custodianKey) : null;
    var officeKey = reportForm ? null : api.fromHex(data.officeKey);
    var card;
    try {
      card = api.verifyOfficeCard(fromBase64(form.dataset.officeCard));
    } catch (error) {
      throw userError(text('badCard'));
    }
    var hex = function (keys) {
      return keys.map(api.toHex).sort().join(',');
    };
    var cardDesks = card.deskKeys.map(api.toHex);
    var desksOk = deskKeys.every(function (key) {
      return cardDesks.indexOf(api.toHex(key)) >= 0;
    });
    var same =
      desksOk &&
      (!custodianKey || api.toHex(custodianKey) === api.toHex(card.custodianKey)) &&
      (!officeKey || api.toHex(officeKey) === api.toHex(card.signingKey)) &&
      (deskKeys.length === 1 || hex(deskKeys) === hex(card.deskKeys));
    if (!same) throw userError(text('badCard'));
    paint('office-fingerprint', function (shown) {
      shown.textContent = render(text('fingerprint', { f: card.fingerprint }));
      shown.hidden = false;
    });
    return card;
  }

  function sendReport(api) {
    var data = reportForm.dataset;
    var files = Array.prototype.slice.call(reportForm.elements.files.files);
    checkFiles(files);
    checkCard(api);
    var collected = collectFields();
    var choices = collectChoices(collected.identification);
    var code = api.generateCode();
    var keys = api.deriveSourceKeys(code, api.fromHex(data.salt));
    var caseId = api.generateCaseId();
    var bars = progress(files, reportForm.querySelector('button[type=submit]'));
    var formDocument = api.formDocument(data.lang, data.desk, collected.fields, choices);
    var copy = api.sealCopy(api.copyDocument('submission', { form: formDocument, files: files }), keys.copyPublicKey, caseId);
    return api
      .writeSubmission({
        deskKey: api.fromHex(data.deskKey),
        custodianKey: api.fromHex(data.custodianKey),
        replyPublicKey: keys.replyPublicKey,
        sourceSigningKey: keys.signingPublicKey,
        caseId: caseId,
        form: formDocument,
        identification: collected.identification,
        files: files,
        onProgress: bars.encrypting,
      })
      .then(function (envelope) {
        var body = new Blob([keys.loginToken, caseId, copy, envelope], { type: 'application/octet-stream' });
        return post(withCopy(data.sealedAction, copy), body, bars.sending);
      })
      .then(function (answer) {
        typed = false;
        codeOnScreen = true;
        receipt = { code: api.formatCode(code), pages: answer.receipts };
        paint('main', showReceipt);
        var heading = document.querySelector('#main h1');
        heading.tabIndex = -1;
        heading.focus();
      });
  }

  // The receipt (the server's, in each language: the same _receipt_main.html as the plain
  // path) with the code made here, which exists nowhere else. As on the plain receipt page, the
  // header keeps only the language switch: the site's links would leave the code behind.
  var receipt = null;
  function showReceipt(main) {
    var written = main.querySelector('#written');
    var ticked = Boolean(written && written.checked);
    main.innerHTML = receipt.pages[document.documentElement.lang];
    main.querySelector('#code').textContent = receipt.code;
    main.querySelector('#written').checked = ticked;
    main.querySelector('form').addEventListener('submit', function () {
      codeOnScreen = false; // the box is ticked (required), so this is "Done"
    });
    var site = document.querySelector('header>nav:not(.langs)');
    if (site) site.hidden = true;
    document.title = main.querySelector('h1').textContent + ' · ' + document.title.split(' · ').pop();
  }

  // --- check-in, the conversation and follow-ups ------------------------------------------------

  // {keys, caseId, caseKey, signedCase, nextFollowup, repliesSeen} while the conversation is
  // shown; only in this page. caseKey: the office's announcement of the case's key as the
  // server gave it (base64, checked before each use), or null.
  var session = null;

  function element(name, text, className) {
    var node = document.createElement(name);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function fileList(files) {
    var list = element('ul');
    files.forEach(function (file) {
      var item = element('li');
      var link = element('a', file.name + ' (' + humanSize(file.content.length) + ')');
      if (!file.url) file.url = URL.createObjectURL(new Blob([file.content], { type: 'application/octet-stream' }));
      link.href = file.url;
      link.download = file.name;
      item.appendChild(link);
      list.appendChild(item);
    });
    return list;
  }

  // What the source sent, from their copy: files by name and size (the copy holds no content).
  function copiedFiles(files) {
    var list = element('ul');
    files.forEach(function (file) {
      list.appendChild(element('li', file.name + ' (' + humanSize(file.size) + ')'));
    });
    return list;
  }

  function showEntry(list, kind, created, opened, forged) {
    var item = element('li', undefined, kind);
    var title = { submission: t.report, followup: t.followup, reply: t.reply, copy: t.copy }[kind] || kind;
    if (opened && opened.position) title += ' ' + t.number.replace('0', String(opened.position.sequence));
    var heading = element('h3', title + ' ');
    heading.appendChild(element('small', created));
    item.appendChild(heading);
    if (forged) {
      var warning = element('p', t.forged, 'error');
      warning.setAttribute('role', 'alert');
      item.appendChild(warning);
    } else if (!opened) {
      item.appendChild(element('p', t.unreadable));
    } else if (kind === 'submission') {
      var fields = element('dl');
      (opened.form ? opened.form.fields : opened.fields).forEach(function (field) {
        fields.appendChild(element('dt', String(field.label)));
        fields.appendChild(element('dd', String(field.value)));
      });
      item.appendChild(fields);
    } else {
      if (kind === 'reply' && !opened.signed) item.appendChild(element('p', t.unsigned, 'note'));
      item.appendChild(element('p', opened.message, 'text'));
    }
    if (opened && !forged && opened.files.length) {
      item.appendChild(element('p', t.files));
      item.appendChild(opened.copied ? copiedFiles(opened.files) : fileList(opened.files));
    }
    if (opened && opened.copied) item.setAttribute('data-copy', '');
    list.appendChild(item);
  }

  // Every reply is checked against the office key pinned in the server's configuration
  // (data-office-key); whether the case is a protocol 2 one comes from the source's own
  // submission when the server still holds it, else from the server's hint.
  // [kind, created, opened, forged] of each record shown, in order; whether the report is
  // shown from the source's copy.
  var shownEntries = [];
  var reportFromCopy = false;
  function showEntries(list) {
    list.textContent = '';
    shownEntries.forEach(function (entry) {
      showEntry(list, entry[0], entry[1], entry[2], entry[3]);
    });
  }

  function openRecords(api, keys, caseId, answer, state) {
    var shown = (shownEntries = []);
    var checks = {
      officeKey: api.fromHex(checkinForm.dataset.officeKey),
      sourceSigningKey: keys.signingPublicKey,
      signedCase: answer.protocol >= 2,
    };
    var numbers = [];
    var replies = []; // the dates of the genuine replies, for the status line
    var reportCopy = false; // the report is shown from the source's copy
    var chain = Promise.resolve();
    answer.records.forEach(function (record) {
      chain = chain.then(function () {
        var bytes = fromBase64(record.data);
        if (record.kind === 'source-copy') {
          return api.openCopy(bytes, keys.copySecretKey, caseId).then(
            function (opened) {
              opened.copied = true;
              if (opened.kind === 'submission') reportCopy = true;
              shown.push([opened.kind, record.created, opened, false]);
            },
            function () {
              shown.push(['copy', record.created, null, false]);
            },
          );
        }
        var opening =
          record.kind === 'submission'
            ? api.openSubmissionAsSource(bytes, keys.replySecretKey, caseId)
            : api.openAsSource(bytes, record.kind, keys.replySecretKey, caseId, checks);
        return opening.then(
          function (opened) {
            if (record.kind === 'submission') checks.signedCase = opened.sourceSigningKey !== null;
            if (record.kind === 'reply' && opened.position) numbers.push(opened.position.sequence);
            if (record.kind === 'reply') replies.push(record.created);
            shown.push([record.kind, record.created, opened, false]);
          },
          function (error) {
            shown.push([record.kind, record.created, null, error instanceof api.errors.SignatureError]);
          },
        );
      });
    });
    return chain.then(function () {
      var highest = numbers.length ? Math.max.apply(null, numbers) : 0;
      var missing = [];
      for (var n = 1; n < highest; n++) if (numbers.indexOf(n) < 0) missing.push(n);
      paint('sealed-entries', showEntries);
      paint('sealed-missing', function (notice) {
        notice.textContent = missing.length ? render(text('missing', { n: missing.join(', ') })) : '';
        notice.hidden = !missing.length;
      });
      state.signedCase = checks.signedCase;
      state.repliesSeen = highest;
      showStatus(answer.records, replies, reportCopy);
      document.getElementById('sealed-copy').hidden = !answer.copies;
    });
  }

  // Where the case stands, as whistle/submit/case_status.py tells it with JavaScript off: the
  // report still on the server is not yet collected; the first genuine reply is the
  // acknowledgement.
  function showStatus(records, replies, reportCopy) {
    var reportHere = records.some(function (record) {
      return record.kind === 'submission';
    });
    var line = text('statusWaiting');
    if (replies.length) line = text('statusAcknowledged', { d: replies.slice().sort()[0] });
    else if (!reportHere) line = text('statusCollected');
    paint('sealed-case-status', function (status) {
      status.textContent = render(line);
    });
    reportFromCopy = reportCopy;
    paint('sealed-report-gone', function (gone) {
      gone.textContent = reportFromCopy ? t.reportCopy : t.reportGone;
      gone.hidden = reportHere;
    });
    paint('sealed-no-replies', function (none) {
      none.textContent = t.noReplies;
      none.hidden = replies.length > 0;
    });
  }

  function checkIn(api) {
    var code;
    try {
      code = api.normalizeCode(checkinForm.elements.code.value);
    } catch (error) {
      var refused = userError(codeMessage(error));
      refused.codeError = error;
      return Promise.reject(refused);
    }
    checkCard(api);
    var keys = api.deriveSourceKeys(code, api.fromHex(checkinForm.dataset.salt));
    var lookup = post(checkinForm.dataset.sealedAction, new Blob([keys.loginToken])).catch(function (error) {
      // 404: well-formed, but no case has it (the server's message says so).
      if (error.status === 404) error.codeError = { position: null };
      throw error;
    });
    return lookup.then(function (answer) {
      var caseId = api.fromHex(answer.case_id);
      var state = {
        keys: keys,
        caseId: caseId,
        caseKey: answer.case_key || null,
        nextFollowup: answer.next_followup,
        keepCopies: answer.keep_copies !== false,
      };
      return openRecords(api, keys, caseId, answer, state).then(function () {
        session = state;
        checkinForm.elements.code.value = '';
        checkinForm.hidden = true;
        codeErrorBox.hidden = true;
        var section = document.getElementById('sealed-conversation');
        section.hidden = false;
        document.getElementById('sealed-conversation-title').focus();
      });
    });
  }

  // What a follow-up is sealed to (docs/protocol.md §17): the case's key alone once the office
  // announced it — believed only when signed by the key of the card checked here and naming
  // this case, else nothing is sent — or, before any announcement, every desk of the card.
  // `caseKey` is the hex of the key posted with it (the server compares keys, not generations).
  function followupKeys(api, card) {
    if (!session.caseKey) {
      return { officeKeys: checkinForm.dataset.deskKeys.split(',').map(api.fromHex), caseKey: null };
    }
    var announced;
    try {
      announced = api.verifyCaseKey(fromBase64(session.caseKey), card.signingKey, session.caseId);
    } catch (error) {
      throw userError(text('caseKeyBad'));
    }
    return { officeKeys: [announced.publicKey], caseKey: api.toHex(announced.publicKey) };
  }

  // The server holds another key for the case than the one this page sealed to (409
  // case-key-changed): the page checks in again with the login token it holds, for the new
  // announcement, and the refusal asks the source to press the button again. Nothing typed
  // is lost; what was sealed to the old key is not sent again.
  function renewCaseKey(api, refused) {
    var state = session;
    return post(checkinForm.dataset.sealedAction, new Blob([state.keys.loginToken])).then(
      function (answer) {
        if (answer.case_id === api.toHex(state.caseId)) state.caseKey = answer.case_key || null;
        throw refused;
      },
      function (failed) {
        throw failed; // not checked in again: what went wrong is what the source must know
      },
    );
  }

  function sendFollowup(api) {
    var followup = document.getElementById('sealed-followup');
    var message = followup.elements.message.value.trim();
    var files = Array.prototype.slice.call(followup.elements.files.files);
    checkFiles(files);
    var sealing = followupKeys(api, checkCard(api));
    var bars = progress(files, followup.querySelector('button[type=submit]'));
    var copy = session.keepCopies
      ? api.sealCopy(api.copyDocument('followup', { message: message, files: files }), session.keys.copyPublicKey, session.caseId)
      : new Uint8Array(0);
    return api
      .writeFollowup({
        message: message,
        files: files,
        replySecretKey: session.keys.replySecretKey,
        officeKeys: sealing.officeKeys,
        caseId: session.caseId,
        signingSeed: session.signedCase ? session.keys.signingSeed : null,
        position: session.signedCase ? { sequence: session.nextFollowup, seen: session.repliesSeen } : null,
        onProgress: bars.encrypting,
      })
      .then(function (envelope) {
        var body = new Blob([session.keys.loginToken, session.caseId, copy, envelope], { type: 'application/octet-stream' });
        var url = withCopy(checkinForm.dataset.followupAction, copy);
        if (sealing.caseKey !== null) url = withQuery(url, 'case_key', sealing.caseKey);
        return post(url, body, bars.sending).catch(function (error) {
          if (error.reason === 'case-key-changed') return renewCaseKey(api, error);
          throw error;
        });
      })
      .then(function () {
        statusBox.hidden = true;
        followup.hidden = true;
        typed = false;
        paint('sealed-sent', function (sent) {
          sent.replaceChildren(document.getElementById('sealed-sent-text').content.cloneNode(true));
        });
        document.getElementById('sealed-copy').hidden = true;
        session = null;
      });
  }

  // The source deletes their copy: nothing of what they sent stays here for them, and nothing
  // they send later is copied.
  function forgetCopy() {
    return post(checkinForm.dataset.forgetAction, new Blob([session.keys.loginToken])).then(function () {
      session.keepCopies = false;
      shownEntries = shownEntries.filter(function (entry) {
        return entry[0] !== 'copy' && !(entry[2] && entry[2].copied);
      });
      reportFromCopy = false;
      repaint();
      document.getElementById('sealed-forget').hidden = true;
      paint('sealed-forgotten', function (done) {
        done.textContent = t.forgotten;
        done.hidden = false;
      });
      document.getElementById('sealed-forgotten').focus();
    });
  }

  // --- the language switch ----------------------------------------------------------------

  // Without JavaScript the report form's switch posts the form to come back in another
  // language; here nothing typed may reach the server in clear, so the page fetches itself in
  // that language (a GET with nothing typed) and takes its text (js/language.js). Where that
  // fails, or while something is being sent, it follows the link: leaving asks first.
  var PARTS = ['body>.skip', 'body>header', '#main', 'body>footer'];
  var announcer = element('p', '', 'visually-hidden');
  announcer.setAttribute('role', 'status');
  document.body.appendChild(announcer);
  var switching = false;

  function switchLanguage(href) {
    if (switching) return;
    if (busy) {
      window.location.href = href;
      return;
    }
    switching = true;
    announcer.textContent = '';
    fetchPage(href)
      .then(function (fetched) {
        if (receipt) {
          // The receipt is this page's own (in every language): only the frame comes.
          applyPage(fetched, ['body>.skip', 'body>header', 'body>footer'], ['sealed-texts']);
          var fresh = fetched.doc.getElementById('sealed-texts');
          Array.prototype.forEach.call(fresh.attributes, function (attribute) {
            texts.setAttribute(attribute.name, attribute.value);
          });
        } else {
          applyPage(fetched, PARTS, [form.id, 'sealed-texts']);
        }
        repaint();
        var current = document.querySelector('.langs [aria-current]');
        if (current && (!document.activeElement || document.activeElement === document.body)) {
          current.tabIndex = -1;
          current.focus();
        }
        announcer.textContent = t.switched;
      })
      .catch(function () {
        window.location.href = href;
      })
      .then(function () {
        switching = false;
      });
  }

  document.addEventListener('click', function (event) {
    var control = event.target.closest && event.target.closest('.langs a[hreflang], .langs button[name=switch_language]');
    if (!control) return;
    event.preventDefault();
    switchLanguage(control.dataset.href || control.href);
  });

  // --- wiring -------------------------------------------------------------------------------

  function intercept(target, work) {
    target.addEventListener('submit', function (event) {
      if (plainChosen && target === form) {
        typed = false; // the plain form, as the source chose: sending is not leaving
        return;
      }
      event.preventDefault();
      if (busy) return;
      busy = true;
      errorBox.hidden = true;
      if (codeErrorBox) codeErrorBox.hidden = true;
      lock(target);
      var button = event.submitter || target.querySelector('button[type=submit]');
      loading
        .then(work, function () {
          // libsodium.js's files or the self-test failed (a problem of this page, not of
          // what the source wrote): said in the page's words, and the plain form offered.
          throw userError(text('unverified'), true);
        })
        .then(function () {
          busy = false;
          unlock();
        })
        .catch(function (error) {
          fail(error, button);
        });
    });
  }

  if (reportForm) intercept(reportForm, sendReport);
  if (checkinForm) {
    intercept(checkinForm, checkIn);
    intercept(document.getElementById('sealed-followup'), sendFollowup);
    intercept(document.getElementById('sealed-forget'), forgetCopy);
  }
})();
