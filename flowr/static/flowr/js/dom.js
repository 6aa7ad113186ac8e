// Building DOM nodes without innerHTML: every text from the database goes
// through textContent, so it can never become markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key.startsWith("on")) {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Translation: Django's JavaScript catalog (the flowr:javascript_catalog
// view, loaded by the page before its modules) defines gettext, ngettext and
// interpolate; without it the English text is shown.
export function gettext(msgid) {
  return window.gettext ? window.gettext(msgid) : msgid;
}

export function ngettext(singular, plural, count) {
  if (window.ngettext) return window.ngettext(singular, plural, count);
  return count === 1 ? singular : plural;
}

// "%(name)s" placeholders filled from `values` (as Django's interpolate(fmt, obj, true)).
export function interpolate(fmt, values) {
  if (window.interpolate) return window.interpolate(fmt, values, true);
  return fmt.replace(/%\(\w+\)s/g, (match) => String(values[match.slice(2, -2)]));
}

export function readJson(id) {
  return JSON.parse(document.getElementById(id).textContent);
}
