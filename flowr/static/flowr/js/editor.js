// The flow editor page: wires the graph, the side panel, the problems list
// and the toolbar to flowr's REST API.  The server is the only source of
// truth: after every edit (or refusal) the graph is reloaded from it.

import { ApiClient, csrfToken, expandGraph } from "./api.js";
import { gettext, h, interpolate, ngettext, readJson } from "./dom.js";
import { GraphView } from "./graph.js";
import { NodePanel } from "./panel.js";
import { renderProblems } from "./problems.js";

// How many node names a prune confirmation lists before summarising.
const LISTED = 15;

// "<verbose name> #<node>", how the editor names a node to people.
function nodeName(data, id) {
  return `${data ? data.verbose_name || data.rule_name : "?"} #${id}`;
}

class Editor {
  constructor(root) {
    this.root = root;
    this.config = readJson("flowr-config");
    const payload = expandGraph(readJson("flowr-graph-data"));
    this.api = new ApiClient(this.config.api, csrfToken(root));
    this.banner = document.getElementById("flowr-banner");
    this.panel = new NodePanel(document.getElementById("flowr-node-panel"));
    this.problems = document.getElementById("flowr-problems-list");
    this.graph = new GraphView(document.getElementById("flowr-graph"), payload.elements.nodes.length, {
      onNode: (ele) => this.tapNode(ele),
      onBackground: () => this.tapBackground(),
    });
    this.selected = null;
    this.mode = null;
    this.busy = false;
    this.bindToolbar();
    document.addEventListener("keydown", (evt) => {
      if (evt.key === "Escape" && this.mode) this.cancelMode();
    });
    this.apply(payload, { keepView: false });
    root.dataset.ready = "true";
  }

  // -- state from the server ---------------------------------------------
  apply(payload, { keepView }) {
    this.flow = payload.flow;
    this.nodes = new Map(payload.elements.nodes.map((n) => [n.data.node, n.data]));
    this.graph.setElements(payload.elements, { keepView });
    this.showFlow();
    renderProblems(this.problems, payload.elements.nodes, (id) => this.selectNode(id, true));
    this.selectNode(this.nodes.has(this.selected) ? this.selected : null);
  }

  async reload() {
    this.apply(expandGraph(await this.api.flowGraph(this.config.flow_id)), { keepView: true });
  }

  get readOnly() {
    return this.flow.frozen;
  }

  get readOnlyReason() {
    const text = ngettext(
      "Read-only: %(count)s running state uses this flow. Clone it to edit a new version.",
      "Read-only: %(count)s running states use this flow. Clone it to edit a new version.",
      this.flow.state_count,
    );
    return interpolate(text, { count: this.flow.state_count });
  }

  showFlow() {
    const flow = this.flow;
    const title = flow.version > 1
      ? interpolate(gettext("%(name)s (v%(version)s)"), { name: flow.name, version: flow.version })
      : flow.name;
    document.getElementById("flowr-flow-title").textContent = title;
    const frozen = document.getElementById("flowr-frozen");
    frozen.hidden = !flow.frozen;
    document.getElementById("flowr-frozen-count").textContent = String(flow.state_count);
    const name = document.getElementById("flowr-name");
    if (document.activeElement !== name) name.value = flow.name;
    for (const el of document.querySelectorAll("#flowr-rename input, #flowr-rename button")) {
      el.disabled = this.readOnly;
    }
    this.root.classList.toggle("flowr-readonly", this.readOnly);
  }

  // -- selection -----------------------------------------------------------
  selectNode(id, reveal = false) {
    this.cancelMode();
    this.selected = id;
    const data = id === null ? null : this.nodes.get(id);
    if (!data) {
      this.selected = null;
      this.graph.select(null);
      this.panel.clear();
      return;
    }
    const ele = this.graph.node(id);
    this.graph.select(ele);
    if (reveal) this.graph.reveal(ele);
    this.panel.render(data, {
      readOnly: this.readOnly,
      readOnlyReason: this.readOnlyReason,
      nodeData: (child) => this.nodes.get(child),
      onSelect: (child) => this.selectNode(child, true),
      onAddChild: (label) => this.run(() => this.api.addChild(id, label)),
      onConnect: () => this.startConnect(),
      onRemove: () => this.confirmRemove(),
      onPrune: () => this.startPrune(),
    });
    if (data.has_edit_screen) this.loadEditScreen(id);
  }

  tapNode(ele) {
    if (this.mode && this.mode.kind === "connect") {
      this.pickTarget(ele);
    } else {
      this.selectNode(ele.data("node"));
    }
  }

  tapBackground() {
    if (this.mode) {
      this.cancelMode();
    } else {
      this.selectNode(null);
    }
  }

  // -- modes: connect, remove, prune --------------------------------------
  cancelMode() {
    if (!this.mode) return;
    this.mode = null;
    this.graph.clearMarks();
    this.panel.hideMode();
  }

  modeButtons(confirmText, onConfirm) {
    return h("p", { class: "flowr-mode-buttons" },
      onConfirm ? h("button", { type: "button", id: "flowr-confirm", class: "button flowr-danger", onclick: onConfirm }, confirmText) : null,
      " ",
      h("button", { type: "button", id: "flowr-cancel", class: "button", onclick: () => this.cancelMode() }, gettext("Cancel")));
  }

  startConnect() {
    this.cancelMode();
    const source = this.nodes.get(this.selected);
    const allowed = new Set(source.allowed_child_rules.map((r) => r.label));
    const children = new Set(source.children);
    const candidates = this.graph.cy.nodes().filter(
      (n) => allowed.has(n.data("rule_label")) && !children.has(n.data("node")),
    );
    this.mode = { kind: "connect", source: source.node, candidates: new Set(candidates.map((n) => n.data("node"))) };
    this.graph.markCandidates(this.graph.node(source.node), candidates);
    const names = source.allowed_child_rules.map((r) => r.verbose_name || r.name).join(", ");
    const prompt = gettext("Click a green node to connect %(node)s to it (allowed rules: %(rules)s).");
    this.panel.showMode("connect",
      h("p", {}, interpolate(prompt, { node: nodeName(source, source.node), rules: names }), " ",
        h("strong", { id: "flowr-candidate-count" }, String(candidates.length)), " ",
        ngettext("node can be picked; dimmed ones cannot.", "nodes can be picked; dimmed ones cannot.", candidates.length)),
      h("p", { id: "flowr-connect-note", class: "flowr-reason", hidden: true }),
      this.modeButtons());
  }

  pickTarget(ele) {
    const id = ele.data("node");
    const source = this.nodes.get(this.mode.source);
    if (!this.mode.candidates.has(id)) {
      const note = document.getElementById("flowr-connect-note");
      const refused = gettext("%(node)s cannot be picked: its rule may not follow %(source)s here.");
      note.textContent = interpolate(refused, {
        node: nodeName({ verbose_name: ele.data("verbose_name"), rule_name: ele.data("rule_name") }, id),
        source: source.verbose_name || source.rule_name,
      });
      note.hidden = false;
      return;
    }
    this.run(() => this.api.connect(source.node, id));
  }

  confirmRemove() {
    const data = this.nodes.get(this.selected);
    this.cancelMode();
    this.mode = { kind: "remove" };
    this.graph.markDoomed(this.graph.node(data.node));
    this.panel.showMode("remove",
      h("p", {}, interpolate(gettext("Remove %(node)s? Its children stay in the flow."), { node: nodeName(data, data.node) })),
      this.modeButtons(gettext("Remove this node"), () => this.run(() => this.api.removeNode(data.node))));
  }

  async startPrune() {
    const id = this.selected;
    let detail;
    try {
      detail = await this.api.node(id);
    } catch (err) {
      await this.fail(err);
      return;
    }
    if (this.selected !== id) return;
    this.cancelMode();
    const doomed = this.graph.cy.collection(detail.prune_list.map((pk) => this.graph.node(pk)).filter(Boolean));
    this.mode = { kind: "prune", ids: detail.prune_list };
    this.graph.markDoomed(doomed);
    const listed = detail.prune_list.slice(0, LISTED).map((pk) => {
      const data = this.nodes.get(pk);
      return h("li", { dataset: { node: pk } }, nodeName(data, pk));
    });
    if (detail.prune_list.length > LISTED) {
      const more = interpolate(gettext("\u2026 and %(count)s more"), { count: detail.prune_list.length - LISTED });
      listed.push(h("li", {}, more));
    }
    const count = detail.prune_list.length;
    this.panel.showMode("prune",
      h("p", {}, gettext("Prune removes"), " ", h("strong", { id: "flowr-prune-count" }, String(count)), " ",
        ngettext("node, highlighted in red:", "nodes, highlighted in red:", count)),
      h("ul", { class: "flowr-prune-list" }, listed),
      this.modeButtons(interpolate(ngettext("Prune %(count)s node", "Prune %(count)s nodes", count), { count }),
        () => this.run(() => this.api.prune(id))));
  }

  // -- talking to the server ------------------------------------------------
  async run(action) {
    if (this.busy) return;
    this.busy = true;
    this.root.classList.add("flowr-busy");
    this.hideBanner();
    try {
      await action();
      this.mode = null;
      await this.reload();
    } catch (err) {
      await this.fail(err);
    } finally {
      this.busy = false;
      this.root.classList.remove("flowr-busy");
    }
  }

  // Show the refusal, then show the graph as the server has it.
  async fail(err) {
    this.showBanner(err);
    this.mode = null;
    try {
      await this.reload();
    } catch (again) {
      this.showBanner(err, again);
    }
  }

  showBanner(err, reloadErr = null) {
    const text = err.detail || err.message || String(err);
    this.banner.replaceChildren(
      h("span", { id: "flowr-banner-text" }, interpolate(gettext("The server refused: %(reason)s"), { reason: text })),
      err.code ? h("code", { class: "flowr-banner-code" }, err.code) : null,
      reloadErr
        ? h("span", {}, " ", interpolate(gettext("(reloading the graph failed too: %(reason)s)"), { reason: reloadErr.message }))
        : null,
      h("button", { type: "button", class: "flowr-banner-close", "aria-label": gettext("Dismiss"), onclick: () => this.hideBanner() }, "\u00d7"),
    );
    this.banner.hidden = false;
  }

  hideBanner() {
    this.banner.hidden = true;
    this.banner.replaceChildren();
  }

  async loadEditScreen(id) {
    const box = this.panel.editScreen;
    box.replaceChildren(h("p", { class: "flowr-hint" }, gettext("Loading\u2026")));
    const url = this.config.edit_screen_url.replace("{id}", id);
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html", "X-Flowr-Fragment": "1" } });
      if (!response.ok) {
        throw new Error(interpolate(gettext("the edit screen could not be loaded (%(status)s)"), { status: response.status }));
      }
      const html = await response.text();
      // HTML made by the rule's code (database values escaped server-side)
      if (this.selected === id) box.innerHTML = html;
    } catch (err) {
      if (this.selected === id) box.replaceChildren(h("p", { class: "errornote" }, String(err.message)));
    }
  }

  // -- toolbar ---------------------------------------------------------------
  bindToolbar() {
    const on = (id, fn) => document.getElementById(id).addEventListener("click", fn);
    on("flowr-fit", () => this.graph.fit());
    on("flowr-zoom-in", () => this.graph.zoomBy(1.25));
    on("flowr-zoom-out", () => this.graph.zoomBy(0.8));
    on("flowr-relayout", () => this.graph.layout(true));
    on("flowr-clone", () => this.clone());
    document.getElementById("flowr-rename").addEventListener("submit", (evt) => {
      evt.preventDefault();
      const name = document.getElementById("flowr-name").value.trim();
      if (name) this.run(() => this.api.renameFlow(this.config.flow_id, name));
    });
  }

  async clone() {
    const button = document.getElementById("flowr-clone");
    button.disabled = true;
    try {
      const copy = await this.api.cloneFlow(this.config.flow_id);
      window.location.assign(this.config.editor_url.replace("{id}", copy.id));
    } catch (err) {
      button.disabled = false;
      await this.fail(err);
    }
  }
}

window.flowrEditor = new Editor(document.getElementById("flowr-editor"));
