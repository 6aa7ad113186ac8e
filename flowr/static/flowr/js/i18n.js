// The editor's user-visible strings go through Django's JavaScript catalog
// when the page loads it (window.gettext / window.interpolate, from
// django.views.i18n.JavaScriptCatalog); without it they are shown as written.
// Placeholders are named: interpolate("%(name)s", { name }, true).

export function gettext(text) {
  return typeof window.gettext === "function" ? window.gettext(text) : text;
}

export function ngettext(singular, plural, count) {
  if (typeof window.ngettext === "function") return window.ngettext(singular, plural, count);
  return count === 1 ? singular : plural;
}

export function interpolate(format, values, named = true) {
  if (typeof window.interpolate === "function") return window.interpolate(format, values, named);
  return format.replace(/%\(([a-z_]+)\)s/g, (match, key) => String(values[key]));
}
