// The rule set page: which rule may follow which, read-only.

import { gettext, h, readJson } from "./dom.js";
import { GraphView } from "./graph.js";

class RuleGraph {
  constructor(root) {
    this.root = root;
    const elements = readJson("flowr-rules-data");
    this.rules = new Map(elements.nodes.map((n) => [n.data.id, n.data]));
    this.panel = document.getElementById("flowr-rule-panel");
    this.graph = new GraphView(document.getElementById("flowr-graph"), elements.nodes.length, {
      onNode: (ele) => this.select(ele.id()),
      onBackground: () => this.select(null),
    });
    this.graph.setElements(elements);
    for (const [id, fn] of [
      ["flowr-fit", () => this.graph.fit()],
      ["flowr-zoom-in", () => this.graph.zoomBy(1.25)],
      ["flowr-zoom-out", () => this.graph.zoomBy(0.8)],
    ]) {
      document.getElementById(id).addEventListener("click", fn);
    }
    this.select(null);
    root.dataset.ready = "true";
  }

  select(label) {
    const data = label === null ? null : this.rules.get(label);
    const ele = data ? this.graph.cy.getElementById(label) : null;
    this.graph.select(ele);
    if (!data) {
      this.panel.replaceChildren(h("p", { class: "flowr-hint" }, gettext("Select a rule to see what may follow it.")));
      return;
    }
    const badges = [];
    if (data.is_root) badges.push(h("span", { class: "flowr-badge flowr-badge-root" }, gettext("root")));
    if (data.multiple_paths) badges.push(h("span", { class: "flowr-badge flowr-badge-branching" }, gettext("branching")));
    if (data.has_edit_screen) badges.push(h("span", { class: "flowr-badge" }, gettext("edit screen")));
    if (data.missing_rule) badges.push(h("span", { class: "flowr-badge flowr-badge-missing" }, gettext("missing rule")));
    const children = data.children.map((child) => {
      const rule = this.rules.get(child);
      return h("li", {}, h("button", { type: "button", class: "flowr-link", onclick: () => this.select(child) },
        rule ? rule.verbose_name || rule.rule_name : child));
    });
    this.panel.replaceChildren(
      h("div", { class: "flowr-rule", dataset: { label: data.rule_label } },
        h("h2", {}, data.verbose_name || data.rule_name, " ", ...badges),
        h("p", {}, h("code", {}, data.rule_label)),
        h("h3", {}, data.multiple_paths ? gettext("May branch to") : gettext("May be followed by one of")),
        children.length ? h("ul", {}, children) : h("p", { class: "flowr-empty" }, gettext("Nothing: a flow ends here."))),
    );
  }
}

window.flowrRules = new RuleGraph(document.getElementById("flowr-rules"));
