// The side panel of the flow editor: what the selected node is, and the
// edits allowed on it.  Buttons that cannot act are disabled and say why.

import { gettext, h, interpolate, ngettext } from "./dom.js";

function badge(text, kind) {
  return h("span", { class: `flowr-badge flowr-badge-${kind}` }, text);
}

function reason(text, name) {
  return text ? h("p", { class: "flowr-reason", dataset: { reasonFor: name } }, text) : null;
}

function describe(data) {
  const badges = [];
  if (data.is_root) badges.push(badge(gettext("root"), "root"));
  if (data.multiple_paths) badges.push(badge(gettext("branching"), "branching"));
  if (data.missing_rule) badges.push(badge(gettext("missing rule"), "missing"));
  if (data.state_count) {
    const here = ngettext("%(count)s state here", "%(count)s states here", data.state_count);
    badges.push(badge(interpolate(here, { count: data.state_count }), "states"));
  }
  return [
    h("h2", { class: "flowr-node-title" }, data.verbose_name || data.rule_name, " ", ...badges),
    h("dl", { class: "flowr-facts" },
      h("dt", {}, gettext("Node")), h("dd", { class: "flowr-node-id" }, `#${data.node}`),
      h("dt", {}, gettext("Rule")),
      h("dd", {}, data.missing_rule
        ? h("span", { class: "flowr-missing" }, gettext("missing rule:"), " ", h("code", {}, data.rule_label))
        : h("code", { class: "flowr-rule-label" }, data.rule_label)),
    ),
  ];
}

function childrenList(data, ctx) {
  if (!data.children.length) {
    return h("p", { class: "flowr-children flowr-empty" }, gettext("No children: the flow ends here."));
  }
  return h("ul", { class: "flowr-children" }, data.children.map((id) => {
    const child = ctx.nodeData(id);
    const name = child ? child.verbose_name || child.rule_name : "?";
    return h("li", {}, h("button", { type: "button", class: "flowr-link", dataset: { node: id }, onclick: () => ctx.onSelect(id) },
      `${name} #${id}`));
  }));
}

function addChildForm(data, ctx) {
  const rules = data.allowed_child_rules;
  const select = h("select", { id: "flowr-add-rule", name: "rule", disabled: !rules.length, "aria-label": gettext("Rule of the new child") },
    rules.length
      ? rules.map((r) => h("option", { value: r.label }, `${r.verbose_name || r.name} (${r.label})`))
      : h("option", { value: "" }, gettext("\u2014 none \u2014")));
  const form = h("form", { class: "flowr-add-child", onsubmit: (evt) => {
    evt.preventDefault();
    if (select.value) ctx.onAddChild(select.value);
  } },
  h("label", { for: "flowr-add-rule" }, gettext("Add child")), " ", select, " ",
  h("button", { type: "submit", id: "flowr-add-child", class: "button", disabled: !rules.length }, gettext("Add")));
  return [form, reason(rules.length ? null : data.full_reason, "add-child")];
}

function actions(data, ctx) {
  if (ctx.readOnly) {
    return [h("p", { class: "flowr-readonly-note" }, ctx.readOnlyReason)];
  }
  const canConnect = data.allowed_child_rules.length > 0;
  return [
    h("h3", {}, gettext("Edit")),
    ...addChildForm(data, ctx),
    h("div", { class: "flowr-action" },
      h("button", { type: "button", id: "flowr-connect", class: "button", disabled: !canConnect, onclick: ctx.onConnect },
        gettext("Connect to\u2026")),
      reason(canConnect ? null : data.full_reason, "connect")),
    h("div", { class: "flowr-action" },
      h("button", { type: "button", id: "flowr-remove", class: "button", disabled: !data.can_remove, onclick: ctx.onRemove },
        gettext("Remove")),
      reason(data.can_remove ? null : data.cannot_remove_reason, "remove")),
    h("div", { class: "flowr-action" },
      h("button", { type: "button", id: "flowr-prune", class: "button", disabled: data.is_root, onclick: ctx.onPrune },
        gettext("Prune\u2026")),
      reason(data.is_root ? gettext("The root cannot be pruned.") : null, "prune")),
  ];
}

export class NodePanel {
  constructor(container) {
    this.container = container;
    this.mode = h("div", { id: "flowr-mode", class: "flowr-mode", hidden: true });
    this.editScreen = h("div", { id: "flowr-edit-screen", class: "flowr-edit-screen", hidden: true });
    this.clear();
  }

  clear() {
    this.container.replaceChildren(h("p", { class: "flowr-hint" }, gettext("Select a node to see and edit it.")));
  }

  // ctx: readOnly, readOnlyReason, nodeData(id), onSelect(id), onAddChild(label),
  // onConnect(), onRemove(), onPrune()
  render(data, ctx) {
    this.hideMode();
    this.editScreen.replaceChildren();
    this.editScreen.hidden = !data.has_edit_screen;
    this.container.replaceChildren(
      h("div", { class: "flowr-node", dataset: { node: data.node } },
        ...describe(data),
        this.mode,
        h("h3", {}, gettext("Children")),
        childrenList(data, ctx),
        ...actions(data, ctx),
        data.has_edit_screen ? h("h3", {}, gettext("Edit screen")) : null,
        this.editScreen),
    );
  }

  // A prompt for the current mode (connect, prune, remove) with its buttons.
  showMode(kind, ...content) {
    this.mode.dataset.kind = kind;
    this.mode.replaceChildren(...content);
    this.mode.hidden = false;
  }

  hideMode() {
    this.mode.hidden = true;
    this.mode.replaceChildren();
    delete this.mode.dataset.kind;
  }
}
