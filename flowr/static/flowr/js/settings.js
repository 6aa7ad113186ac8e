// The settings form of the editor's side panel, built from the JSON Schema
// the node endpoint serves (settings_schema) -- never from HTML: every label
// and value goes through textContent.  The server validates with the rule's
// form and answers per-field problems, shown next to each input.

import { gettext, h } from "./dom.js";

function types(prop) {
  return Array.isArray(prop.type) ? prop.type : [prop.type];
}

function nullable(prop) {
  return types(prop).includes("null") || (prop.enum || []).includes(null);
}

function inputFor(name, prop, value, readOnly) {
  const id = `flowr-setting-${name}`;
  const common = { id, name, disabled: readOnly, dataset: { setting: name } };
  const choices = prop["x-choices"];
  if (choices && types(prop).includes("array")) {
    const chosen = new Set((value || []).map(String));
    return h("select", { ...common, multiple: true },
      choices.map((c, i) => h("option", { value: String(i), selected: chosen.has(String(c.value)) }, c.label)));
  }
  if (choices) {
    const options = choices.map((c, i) => h("option", { value: String(i), selected: String(c.value) === String(value) }, c.label));
    return h("select", common, h("option", { value: "" }, "\u2014"), options);
  }
  if (types(prop).includes("boolean")) {
    return h("input", { ...common, type: "checkbox", checked: Boolean(value) });
  }
  if (prop["x-widget"] === "textarea") {
    const area = h("textarea", { ...common, rows: 3 });
    area.value = value === null || value === undefined ? "" : String(value);
    return area;
  }
  const type = types(prop).includes("integer") ? "number" : prop.format === "email" ? "email" : "text";
  const input = h("input", { ...common, type, step: type === "number" ? "1" : null });
  input.value = value === null || value === undefined ? "" : String(value);
  return input;
}

// The JSON value of one input, as the schema types it.
function valueOf(input, prop) {
  const choices = prop["x-choices"];
  if (choices && input.multiple) {
    return [...input.selectedOptions].map((o) => choices[Number(o.value)].value);
  }
  if (choices) {
    return input.value === "" ? null : choices[Number(input.value)].value;
  }
  if (input.type === "checkbox") return input.checked;
  const text = input.value.trim();
  if (text === "" && nullable(prop)) return null;
  if (types(prop).includes("integer") && /^-?\d+$/.test(text)) return Number(text);
  return text;
}

// The form; onSave(values) sends them.  Returns { element, showProblems(problems) }.
export function settingsForm(schema, stored, { readOnly, onSave }) {
  const rows = new Map();
  const fields = Object.entries(schema.properties || {}).map(([name, prop]) => {
    const value = name in stored ? stored[name] : prop.default;
    const input = inputFor(name, prop, value, readOnly);
    const errors = h("ul", { class: "errorlist flowr-setting-errors", dataset: { errorsFor: name }, hidden: true });
    rows.set(name, { input, prop, errors });
    const required = (schema.required || []).includes(name);
    return h("div", { class: "flowr-setting", dataset: { field: name } },
      h("label", { for: input.id }, prop.title || name, required ? " *" : ""), " ", input,
      prop.description ? h("p", { class: "help" }, prop.description) : null,
      errors);
  });
  const general = h("p", { class: "errornote flowr-settings-error", hidden: true });
  const form = h("form", { id: "flowr-settings", class: "flowr-settings", onsubmit: (evt) => {
    evt.preventDefault();
    const values = {};
    for (const [name, row] of rows) values[name] = valueOf(row.input, row.prop);
    onSave(values);
  } },
  general,
  ...fields,
  readOnly ? null : h("button", { type: "submit", id: "flowr-settings-save", class: "button" }, gettext("Save settings")));

  function showProblems(problems, message) {
    for (const row of rows.values()) {
      row.errors.replaceChildren();
      row.errors.hidden = true;
    }
    general.hidden = true;
    const rest = [];
    for (const [name, messages] of Object.entries(problems || {})) {
      const row = rows.get(name);
      if (row) {
        row.errors.replaceChildren(...messages.map((m) => h("li", {}, m)));
        row.errors.hidden = false;
      } else {
        rest.push(...messages);
      }
    }
    if (rest.length || !Object.keys(problems || {}).length) {
      general.textContent = rest.length ? rest.join(" ") : message || "";
      general.hidden = !general.textContent;
    }
  }
  return { element: form, showProblems };
}
