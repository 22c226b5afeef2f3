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
// plain form (encryption on the server) explicitly.
import { load } from './whistle-crypto.js';

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

  function say(text) {
    if (modeLine) modeLine.textContent = text;
  }

  var plainChosen = false;
  var busy = false;
  var failed = false;
  say(t.loading);
  var loading = load();
  loading.then(
    function (api) {
      if (!failed) say(t.on);
      document.documentElement.setAttribute('data-encryption', 'page');
      document.documentElement.setAttribute('data-crypto-mode', api.mode);
      try {
        checkCard(api); // shows the fingerprint now; checked again before anything is sent
      } catch (error) {
        say(error.userMessage);
      }
    },
    function () {
      // libsodium.js's binary or fallback did not arrive or failed its hash, or the self-test
      // failed: this browser is not trusted to encrypt. Fail closed (review finding L2): the forms send nothing until the source
      // chooses the plain form with the button the error shows.
      say(t.unverified);
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
  // Text typed into the report and not sent: leaving asks first too.
  var typed = false;
  if (reportForm) {
    reportForm.addEventListener('input', function () {
      typed = true;
    });
  }
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
    var where = function (text) {
      var position = error.position;
      return text.replace('{g}', String(Math.floor(position / 4) + 1)).replace('{p}', String((position % 4) + 1));
    };
    if (error.name === 'CodeChecksumError') {
      if (error.kind === 'wrong' && error.position !== null) return where(t.codeWrong);
      if (error.kind === 'swapped' && error.position !== null) return where(t.codeSwappedAt);
      if (error.kind === 'swapped') return t.codeSwapped;
      return t.codeMistyped;
    }
    if (error.position !== null && error.position !== undefined) return where(t.codeOutside);
    return t.codeFormat;
  }

  function showCodeError(message, error) {
    busy = false;
    unlock();
    var field = checkinForm.elements.code;
    var typed = document.getElementById('code-typed-js');
    typed.textContent = '';
    typed.hidden = true;
    if (error && error.position !== null && error.position !== undefined) {
      var compact = field.value.replace(/[ \-\t\r\n\u00a0]/g, '').toUpperCase();
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
    document.getElementById('code-error-text').textContent = message;
    codeErrorBox.hidden = false;
    field.setAttribute('aria-invalid', 'true');
    field.focus();
  }

  function fail(error) {
    if (error && error.codeError) {
      showCodeError(error.userMessage, error.codeError);
      return;
    }
    busy = false;
    unlock();
    failed = true;
    errorText.textContent = t.failed + ' ' + reasonFor(error);
    errorBox.hidden = false;
    statusBox.hidden = true;
    document.documentElement.setAttribute('data-encryption-failed', 'yes');
    plainButton.focus();
  }

  // Only the page's translated texts are shown: an error's own message is English (from the
  // crypto library or the browser), so it is chosen by its class name, never printed.
  function reasonFor(error) {
    if (error && error.userMessage) return error.userMessage;
    var name = error && error.name;
    if (name === 'CodeError' || name === 'CodeFormatError' || name === 'CodeChecksumError') return t.badCode;
    if (name === 'UnsupportedVersionError') return t.newer;
    return t.unexpected;
  }

  function userError(message) {
    var error = new Error(message);
    error.userMessage = message;
    return error;
  }

  plainButton.addEventListener('click', function () {
    unlock();
    plainChosen = true;
    typed = false; // sending it is not leaving it
    errorBox.hidden = true;
    say(t.off);
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
    if (files.length > Number(form.dataset.maxFiles) || total > max) throw userError(t.tooLarge);
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

  function post(url, body, onUpload) {
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
        if (request.status === 200) {
          resolve(answer);
          return;
        }
        var error = userError(answer.error || t.refused.replace('{s}', String(request.status)));
        error.status = request.status;
        reject(error);
      };
      request.onerror = function () {
        reject(userError(t.connection));
      };
      request.send(body);
    });
  }

  // The URL of a sealed route, announcing the size of the source's copy that precedes the
  // envelope in the body (views/sealed.py).
  function withCopy(url, copy) {
    return url + (url.indexOf('?') < 0 ? '?' : '&') + 'copy=' + copy.length;
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
    if (!identified && identification.length) throw userError(identity.anonymousError);
    if (identified && !identification.length) throw userError(identity.identifiedError);
    var select = elements.category;
    var option = select && select.value ? select.options[select.selectedIndex] : null;
    var meeting = elements.meeting.checked;
    var availability = elements.availability.value.split(/\s+/).filter(Boolean).join(' ');
    if (availability && !meeting) {
      throw userError(document.getElementById('meeting-request').dataset.availabilityError);
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
      throw userError(t.badCard);
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
    if (!same) throw userError(t.badCard);
    var shown = document.getElementById('office-fingerprint');
    if (shown) {
      shown.textContent = t.fingerprint.replace('{f}', card.fingerprint);
      shown.hidden = false;
    }
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
        var main = document.getElementById('main');
        main.innerHTML = answer.receipt;
        document.getElementById('code').textContent = api.formatCode(code);
        codeOnScreen = true;
        var done = main.querySelector('form');
        if (done) {
          done.addEventListener('submit', function () {
            codeOnScreen = false; // the box is ticked (required), so this is "Done"
          });
        }
        var heading = main.querySelector('h1');
        if (heading) {
          document.title = heading.textContent + ' · ' + document.title.split(' · ').pop();
          heading.tabIndex = -1;
          heading.focus();
        }
      });
  }

  // --- check-in, the conversation and follow-ups ------------------------------------------------

  // {keys, caseId, signedCase, nextFollowup, repliesSeen} while the conversation is shown;
  // only in this page
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
      var link = element('a', file.name + ' (' + file.content.length + ' B)');
      link.href = URL.createObjectURL(new Blob([file.content], { type: 'application/octet-stream' }));
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
      list.appendChild(element('li', file.name + ' (' + file.size + ' B)'));
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
  function openRecords(api, keys, caseId, answer, state) {
    var list = document.getElementById('sealed-entries');
    list.textContent = '';
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
              showEntry(list, opened.kind, record.created, opened, false);
            },
            function () {
              showEntry(list, 'copy', record.created, null, false);
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
            showEntry(list, record.kind, record.created, opened, false);
          },
          function (error) {
            showEntry(list, record.kind, record.created, null, error instanceof api.errors.SignatureError);
          },
        );
      });
    });
    return chain.then(function () {
      var highest = numbers.length ? Math.max.apply(null, numbers) : 0;
      var missing = [];
      for (var n = 1; n < highest; n++) if (numbers.indexOf(n) < 0) missing.push(n);
      var notice = document.getElementById('sealed-missing');
      notice.textContent = missing.length ? t.missing.replace('{n}', missing.join(', ')) : '';
      notice.hidden = !missing.length;
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
    var line = t.statusWaiting;
    if (replies.length) line = t.statusAcknowledged.replace('{d}', replies.slice().sort()[0]);
    else if (!reportHere) line = t.statusCollected;
    document.getElementById('sealed-case-status').textContent = line;
    var gone = document.getElementById('sealed-report-gone');
    gone.textContent = reportCopy ? t.reportCopy : t.reportGone;
    gone.hidden = reportHere;
    var none = document.getElementById('sealed-no-replies');
    none.textContent = t.noReplies;
    none.hidden = replies.length > 0;
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
      var state = { keys: keys, caseId: caseId, nextFollowup: answer.next_followup, keepCopies: answer.keep_copies !== false };
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

  function sendFollowup(api) {
    var followup = document.getElementById('sealed-followup');
    var message = followup.elements.message.value.trim();
    var files = Array.prototype.slice.call(followup.elements.files.files);
    checkFiles(files);
    var bars = progress(files, followup.querySelector('button[type=submit]'));
    var deskKeys = checkinForm.dataset.deskKeys.split(',').map(api.fromHex);
    var copy = session.keepCopies
      ? api.sealCopy(api.copyDocument('followup', { message: message, files: files }), session.keys.copyPublicKey, session.caseId)
      : new Uint8Array(0);
    return api
      .writeFollowup({
        message: message,
        files: files,
        replySecretKey: session.keys.replySecretKey,
        deskKeys: deskKeys,
        caseId: session.caseId,
        signingSeed: session.signedCase ? session.keys.signingSeed : null,
        position: session.signedCase ? { sequence: session.nextFollowup, seen: session.repliesSeen } : null,
        onProgress: bars.encrypting,
      })
      .then(function (envelope) {
        var body = new Blob([session.keys.loginToken, session.caseId, copy, envelope], { type: 'application/octet-stream' });
        return post(withCopy(checkinForm.dataset.followupAction, copy), body, bars.sending);
      })
      .then(function (answer) {
        statusBox.hidden = true;
        followup.hidden = true;
        var sent = document.getElementById('sealed-sent');
        sent.innerHTML = answer.sent;
        sent.hidden = false;
        document.getElementById('sealed-copy').hidden = true;
        session = null;
      });
  }

  // The source deletes their copy: nothing of what they sent stays here for them, and nothing
  // they send later is copied.
  function forgetCopy() {
    return post(checkinForm.dataset.forgetAction, new Blob([session.keys.loginToken])).then(function () {
      session.keepCopies = false;
      Array.prototype.forEach.call(document.querySelectorAll('#sealed-entries [data-copy]'), function (item) {
        item.parentNode.removeChild(item);
      });
      var gone = document.getElementById('sealed-report-gone');
      if (!gone.hidden) gone.textContent = t.reportGone;
      var form = document.getElementById('sealed-forget');
      form.hidden = true;
      var done = document.getElementById('sealed-forgotten');
      done.textContent = t.forgotten;
      done.hidden = false;
      done.focus();
    });
  }

  // --- wiring -------------------------------------------------------------------------------

  function intercept(target, work) {
    target.addEventListener('submit', function (event) {
      if (plainChosen && target === form) {
        typed = false; // the plain form, as the source chose: sending is not leaving
        return;
      }
      if (event.submitter && event.submitter.name === 'switch_language') {
        // Without JavaScript this button posts the form to come back in another language;
        // here nothing typed may reach the server in clear, so it is the plain link (and
        // leaving with typed text asks first).
        event.preventDefault();
        window.location.href = event.submitter.dataset.href;
        return;
      }
      event.preventDefault();
      if (busy) return;
      busy = true;
      errorBox.hidden = true;
      if (codeErrorBox) codeErrorBox.hidden = true;
      lock(target);
      loading
        .then(work, function () {
          // libsodium.js's files or the self-test failed (a problem of this page, not of
          // what the source wrote): said in the page's words.
          throw userError(t.unverified);
        })
        .then(function () {
          busy = false;
          unlock();
        })
        .catch(fail);
    });
  }

  if (reportForm) intercept(reportForm, sendReport);
  if (checkinForm) {
    intercept(checkinForm, checkIn);
    intercept(document.getElementById('sealed-followup'), sendFollowup);
    intercept(document.getElementById('sealed-forget'), forgetCopy);
  }
})();
