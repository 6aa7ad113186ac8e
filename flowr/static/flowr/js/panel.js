// The side panel of the flow editor: what the selected node is, and the
// edits allowed on it.  Buttons that cannot act are disabled and say why.

import { gettext, h, interpolate, ngettext } from "./dom.js";
import { settingsForm } from "./settings.js";

// "<verbose name> #<node>", how the editor names a node to people.
function nodeName(data, id) {
  return `${data ? data.verbose_name || data.rule_name : "?"} #${id}`;
}

function ruleOption(rule) {
  return h("option", { value: rule.label }, `${rule.verbose_name || rule.name} (${rule.label})`);
}

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
  if (data.timer) {
    const clock = badge(`\u23f0 ${data.timer.text}`, "timer");
    clock.title = data.timer.text;
    badges.push(clock);
  }
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

// The children; with the node's detail (links), each link gets its
// "Delete link" button, disabled with the reason when refused.
function childrenList(data, ctx, links = null) {
  if (!data.children.length) {
    return h("p", { class: "flowr-children flowr-empty" }, gettext("No children: the flow ends here."));
  }
  const byChild = new Map((links || []).map((link) => [link.child, link]));
  return h("ul", { class: "flowr-children" }, data.children.map((id) => {
    const link = byChild.get(id);
    const tools = link && !ctx.readOnly ? [
      " ",
      h("button", { type: "button", class: "button flowr-small flowr-disconnect", dataset: { child: id },
        disabled: !link.can_disconnect, title: link.can_disconnect ? gettext("Delete this link") : link.reason,
        onclick: () => ctx.onDisconnect(id) }, gettext("Delete link")),
      link.can_disconnect ? null : h("span", { class: "flowr-reason", dataset: { reasonFor: `disconnect-${id}` } },
        link.reason || ""),
    ] : [];
    return h("li", { dataset: { child: id, kind: link ? (link.backbone ? "backbone" : "link") : "" } },
      h("button", { type: "button", class: "flowr-link", dataset: { node: id }, onclick: () => ctx.onSelect(id) },
        nodeName(ctx.nodeData(id), id)),
      ...tools);
  }));
}

// Insert a node between this node and a child: choose the child, then a
// rule allowed there (the detail's insert_options).
function insertForm(detail, ctx) {
  const options = (detail.insert_options || []).filter((o) => o.rules.length);
  if (!options.length) {
    return [h("p", { class: "flowr-label" }, gettext("Insert between")),
      reason(detail.children.length ? gettext("No rule may go between this node and any of its children.")
        : gettext("No children to insert before."), "insert")];
  }
  const childSelect = h("select", { id: "flowr-insert-child", name: "child", "aria-label": gettext("Insert before child") },
    options.map((o) => h("option", { value: String(o.child) }, nodeName(ctx.nodeData(o.child), o.child))));
  const ruleSelect = h("select", { id: "flowr-insert-rule", name: "rule", "aria-label": gettext("Rule of the inserted node") });
  const fillRules = () => {
    const option = options.find((o) => String(o.child) === childSelect.value) || options[0];
    ruleSelect.replaceChildren(...option.rules.map(ruleOption));
  };
  childSelect.addEventListener("change", fillRules);
  fillRules();
  const form = h("form", { class: "flowr-insert", onsubmit: (evt) => {
    evt.preventDefault();
    if (ruleSelect.value) ctx.onInsert(Number(childSelect.value), ruleSelect.value);
  } },
  h("label", { for: "flowr-insert-child" }, gettext("Insert before")), " ", childSelect, " ",
  h("label", { for: "flowr-insert-rule" }, gettext("with rule")), " ", ruleSelect, " ",
  h("button", { type: "submit", id: "flowr-insert", class: "button" }, gettext("Insert")));
  return [form];
}

// Change this node's rule among the detail's rule_options.
function ruleForm(detail, ctx) {
  const rules = detail.rule_options || [];
  if (!rules.length) {
    return [h("p", { class: "flowr-label" }, gettext("Change rule")),
      reason(detail.rule_reason || gettext("No other rule fits here."), "rule")];
  }
  const select = h("select", { id: "flowr-rule-new", name: "rule", "aria-label": gettext("New rule") },
    rules.map(ruleOption));
  return [h("form", { class: "flowr-change-rule", onsubmit: (evt) => {
    evt.preventDefault();
    if (select.value) ctx.onChangeRule(select.value);
  } },
  h("label", { for: "flowr-rule-new" }, gettext("Change rule to")), " ", select, " ",
  h("button", { type: "submit", id: "flowr-change-rule", class: "button" }, gettext("Change")))];
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

function actions(data, ctx, panel) {
  if (ctx.readOnly) {
    return [h("p", { class: "flowr-readonly-note" }, ctx.readOnlyReason)];
  }
  const canConnect = data.allowed_child_rules.length > 0;
  return [
    h("h3", {}, gettext("Edit")),
    ...addChildForm(data, ctx),
    panel.insertBox,
    panel.ruleBox,
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
    this.data = null;
    this.container.replaceChildren(h("p", { class: "flowr-hint" }, gettext("Select a node to see and edit it.")));
  }

  // ctx: readOnly, readOnlyReason, nodeData(id), onSelect(id), onAddChild(label),
  // onConnect(), onRemove(), onPrune(), onDisconnect(child), onInsert(child, label),
  // onChangeRule(label), onSettings(values).  What needs the node's detail (links, insert and
  // rule options) is filled in by renderDetail once it has come.
  render(data, ctx) {
    this.data = data;
    this.ctx = ctx;
    this.hideMode();
    this.editScreen.replaceChildren();
    this.editScreen.hidden = !data.has_edit_screen;
    this.children = childrenList(data, ctx);
    this.insertBox = h("div", { class: "flowr-action flowr-insert-box", dataset: { loading: "true" } });
    this.ruleBox = h("div", { class: "flowr-action flowr-rule-box", dataset: { loading: "true" } });
    this.settingsBox = h("div", { class: "flowr-settings-box" });
    this.settings = null;
    this.container.replaceChildren(
      h("div", { class: "flowr-node", dataset: { node: data.node } },
        ...describe(data),
        this.mode,
        h("h3", {}, gettext("Children")),
        this.children,
        this.settingsBox,
        ...actions(data, ctx, this),
        data.has_edit_screen ? h("h3", {}, gettext("Edit screen")) : null,
        this.editScreen),
    );
  }

  // The selected node's detail (GET nodes/<id>/) has come.
  renderDetail(detail) {
    if (!this.data || detail.node !== this.data.node) return;
    const children = childrenList(this.data, this.ctx, detail.links || []);
    this.children.replaceWith(children);
    this.children = children;
    if (detail.insert_options) {
      this.insertBox.replaceChildren(...insertForm(detail, this.ctx).filter(Boolean));
    }
    if (detail.rule_options) {
      this.ruleBox.replaceChildren(...ruleForm(detail, this.ctx).filter(Boolean));
    }
    if (detail.settings_schema) {
      this.settings = settingsForm(detail.settings_schema, detail.settings || {},
        { readOnly: this.ctx.readOnly, onSave: (values) => this.ctx.onSettings(values) });
      this.settingsBox.replaceChildren(h("h3", {}, gettext("Settings")), this.settings.element);
    }
    delete this.insertBox.dataset.loading;
    delete this.ruleBox.dataset.loading;
    this.container.querySelector(".flowr-node").dataset.detail = "loaded";
  }

  // The server refused the settings: its problems, by field.
  settingsRefused(problems, message) {
    if (this.settings) this.settings.showProblems(problems, message);
  }

  detailFailed(message) {
    this.insertBox.replaceChildren(h("p", { class: "errornote" }, message));
    delete this.insertBox.dataset.loading;
    delete this.ruleBox.dataset.loading;
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
