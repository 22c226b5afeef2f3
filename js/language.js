// The page in another language without leaving it (docs/submit-site.md, "JavaScript on"):
// the same page is fetched in that language with a plain GET (nothing typed goes with it),
// and its text is put into this page around the live form controls, which stay as they are
// (what was typed, the files chosen, the listeners). Nothing is kept in browser storage, which
// Tor Browser may write to disk.

// Form controls are matched by id, else by name and kind, so that they are kept; every other
// element is matched by id, kept when found, and its attributes and text are the new page's.
var CONTROLS = { BUTTON: 1, FIELDSET: 1, INPUT: 1, OUTPUT: 1, SELECT: 1, TEXTAREA: 1 };
// What the source or the page script changed: the attributes that hold it stay this page's.
var LIVE = ['checked', 'disabled', 'hidden', 'selected', 'value', 'aria-invalid', 'aria-busy', 'tabindex'];

function baseKey(element) {
  if (element.id) return '#' + element.id;
  if (!CONTROLS[element.tagName]) return null;
  var value = element.type === 'radio' || element.type === 'checkbox' || element.tagName === 'BUTTON' ? element.value : '';
  return [element.tagName, element.name, element.type, value].join('|');
}

// key → element, for every element under root that can be matched.
function index(root) {
  var found = {};
  var seen = {};
  Array.prototype.forEach.call(root.querySelectorAll('*'), function (element) {
    var key = baseKey(element);
    if (key === null) return;
    var n = (seen[key] = (seen[key] || 0) + 1);
    found[key + '|' + n] = element;
  });
  return found;
}

function Graft(oldRoot, newRoot) {
  this.old = index(oldRoot);
  this.keys = new Map();
  var keys = this.keys;
  var fresh = index(newRoot);
  Object.keys(fresh).forEach(function (key) {
    keys.set(fresh[key], key);
  });
  this.used = new Set();
}

Graft.prototype.copyAttributes = function (target, source) {
  var hiddenInput = target.tagName === 'INPUT' && target.type === 'hidden';
  Array.prototype.slice.call(target.attributes).forEach(function (attribute) {
    var live = LIVE.indexOf(attribute.name) >= 0 && !(hiddenInput && attribute.name === 'value');
    if (!live && !source.hasAttribute(attribute.name)) target.removeAttribute(attribute.name);
  });
  Array.prototype.forEach.call(source.attributes, function (attribute) {
    var live = LIVE.indexOf(attribute.name) >= 0 && !(hiddenInput && attribute.name === 'value');
    if (!live && target.getAttribute(attribute.name) !== attribute.value) {
      target.setAttribute(attribute.name, attribute.value);
    }
  });
  // A hidden field is the server's (a fresh CSRF token), not the source's.
  if (hiddenInput) target.value = source.getAttribute('value') || '';
};

// The element of this page that stands for `source` (of the new page), or null.
Graft.prototype.match = function (source, parent) {
  var key = this.keys.get(source);
  var found = key ? this.old[key] : null;
  if (!found || this.used.has(found) || found.contains(parent)) return null;
  this.used.add(found);
  return found;
};

Graft.prototype.into = function (target, source) {
  this.copyAttributes(target, source);
  // What was typed is the textarea's; an option's state is its select's; a template's
  // content is not among its children.
  if (target.tagName === 'TEXTAREA') return;
  if (target.tagName === 'TEMPLATE') {
    target.content.replaceChildren(document.importNode(source.content, true));
    return;
  }
  if (target.tagName === 'SELECT') {
    Array.prototype.forEach.call(source.options, function (option, i) {
      var mine = target.options[i];
      if (!mine || mine.value !== option.value) return;
      this.copyAttributes(mine, option);
      mine.textContent = option.textContent;
    }, this);
    return;
  }
  var wanted = [];
  Array.prototype.forEach.call(source.childNodes, function (child) {
    if (child.nodeType !== 1) {
      wanted.push(document.importNode(child, false));
      return;
    }
    var kept = this.match(child, target);
    var node = kept || document.importNode(child, false);
    this.into(node, child);
    wanted.push(node);
  }, this);
  // What stays is not moved (a moved control loses focus and caret): the rest goes first,
  // then the new nodes go in around it.
  var keep = new Set(wanted);
  Array.prototype.slice.call(target.childNodes).forEach(function (node) {
    if (!keep.has(node)) target.removeChild(node);
  });
  wanted.forEach(function (node, i) {
    var here = target.childNodes[i];
    if (here !== node) target.insertBefore(node, here || null);
  });
};

/** Rejects when the page could not be fetched or is not the same page in another language. */
export function fetchPage(url) {
  return fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/html' } }).then(function (response) {
    if (!response.ok) throw new Error('HTTP ' + response.status);
    return response.text().then(function (text) {
      return { url: response.url, doc: new DOMParser().parseFromString(text, 'text/html') };
    });
  });
}

/**
 * Puts the fetched page's text into this one. `parts` are the selectors of the regions to
 * take (each must be in both pages); `required` are ids the fetched page must have: else
 * nothing is changed, and the caller falls back to leaving the page.
 */
export function applyPage(fetched, parts, required) {
  var doc = fetched.doc;
  var pairs = parts.map(function (selector) {
    return [document.querySelector(selector), doc.querySelector(selector)];
  });
  var complete =
    pairs.every(function (pair) {
      return pair[0] && pair[1];
    }) &&
    required.every(function (id) {
      return doc.getElementById(id);
    });
  if (!complete) throw new Error('not the same page');
  var focused = document.activeElement;
  var caret = focused && typeof focused.selectionStart === 'number' ? [focused.selectionStart, focused.selectionEnd] : null;
  pairs.forEach(function (pair) {
    new Graft(pair[0], pair[1]).into(pair[0], pair[1]);
  });
  document.documentElement.lang = doc.documentElement.lang;
  document.title = doc.title;
  if (fetched.url && fetched.url !== window.location.href) window.history.replaceState(null, '', fetched.url);
  if (focused && focused !== document.body && focused.isConnected && document.activeElement !== focused) {
    focused.focus({ preventScroll: true });
    if (caret) focused.setSelectionRange(caret[0], caret[1]);
  }
}
