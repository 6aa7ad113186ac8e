// The flow editor page: wires the graph, the side panel, the problems list
// and the toolbar to flowr's REST API.  The server is the only source of
// truth: after every edit (or refusal) the graph is reloaded from it.  Each
// edit carries the graph document's revision; when another edit got there
// first and conflicts (409 concurrent_edit) the graph is reloaded and the
// server's message shown.

import { ApiClient, csrfToken, expandGraph } from "./api.js";
import { gettext, h, interpolate, ngettext, readJson } from "./dom.js";
import { GraphView } from "./graph.js";
import { NodePanel } from "./panel.js";
import { renderProblems } from "./problems.js";
import { Simulator } from "./simulate.js";

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
    this.simulator = new Simulator({
      api: this.api,
      graph: this.graph,
      box: document.getElementById("flowr-sim"),
      button: document.getElementById("flowr-simulate"),
      flowId: this.config.flow_id,
      subjectTypes: this.config.subject_types,
    });
    this.selected = null;
    this.detail = null; // the selected node's detail (GET nodes/<id>/)
    this.mode = null;
    this.busy = false;
    this.bindToolbar();
    document.addEventListener("keydown", (evt) => this.keydown(evt));
    this.ready = this.apply(payload, { keepView: false }).then(() => {
      root.dataset.ready = "true";
    });
  }

  // -- state from the server ---------------------------------------------
  // view: { keepView, focus } (focus: a node to bring into view, e.g. a new one)
  async apply(payload, { keepView, focus = null }) {
    this.flow = payload.flow;
    this.api.revision = typeof this.flow.revision === "number" ? this.flow.revision : null;
    this.nodes = new Map(payload.elements.nodes.map((n) => [n.data.node, n.data]));
    const anchor = this.nodes.has(this.selected) ? this.selected : null;
    await this.graph.setElements(payload.elements, { keepView, anchor, focus });
    this.showFlow();
    renderProblems(this.problems, payload.elements.nodes, (id) => this.selectNode(id));
    this.selectNode(this.nodes.has(this.selected) ? this.selected : null);
    // the graph was redrawn (an edit, undo...): simulate the new flow again
    if (this.simulator.active) await this.simulator.run();
  }

  async reload(focus = null) {
    await this.apply(expandGraph(await this.api.flowGraph(this.config.flow_id)), { keepView: true, focus });
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
    this.showUndo();
    this.graph.moved();
  }

  // The undo / redo buttons say what they would do; disabled when nothing.
  showUndo() {
    const texts = {
      undo: { plain: gettext("Undo"), what: gettext("Undo: %(description)s"), none: gettext("Nothing to undo") },
      redo: { plain: gettext("Redo"), what: gettext("Redo: %(description)s"), none: gettext("Nothing to redo") },
    };
    for (const [kind, edit] of [["undo", this.flow.undo], ["redo", this.flow.redo]]) {
      const button = document.getElementById(`flowr-${kind}`);
      if (!button) continue;
      const what = edit ? edit.description : null;
      button.disabled = !what || this.readOnly;
      const text = what ? interpolate(texts[kind].what, { description: what }) : texts[kind].plain;
      button.title = what ? text : texts[kind].none;
      button.querySelector(".flowr-undo-what").textContent = what || "";
      button.dataset.seq = edit ? String(edit.seq) : "";
      button.setAttribute("aria-label", text);
    }
  }

  undo() {
    if (this.flow.undo && !this.readOnly) this.run(() => this.api.undo(this.config.flow_id));
  }

  redo() {
    if (this.flow.redo && !this.readOnly) this.run(() => this.api.redo(this.config.flow_id));
  }

  keydown(evt) {
    if (evt.key === "Escape" && this.mode) {
      this.cancelMode();
      return;
    }
    if (!(evt.ctrlKey || evt.metaKey) || evt.altKey) return;
    const key = evt.key.toLowerCase();
    // typing in a field keeps the browser's own undo
    const target = evt.target;
    if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
    if (key === "z" && !evt.shiftKey) {
      evt.preventDefault();
      this.undo();
    } else if ((key === "z" && evt.shiftKey) || key === "y") {
      evt.preventDefault();
      this.redo();
    }
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
    this.detail = null;
    this.panel.render(data, {
      readOnly: this.readOnly,
      readOnlyReason: this.readOnlyReason,
      nodeData: (child) => this.nodes.get(child),
      onSelect: (child) => this.selectNode(child),
      onAddChild: (label) => this.run(() => this.api.addChild(id, label), { focusNew: true }),
      onConnect: () => this.startConnect(),
      onRemove: () => this.confirmRemove(),
      onPrune: () => this.startPrune(),
      onDisconnect: (child) => this.confirmDisconnect(child),
      onInsert: (child, label) => this.run(() => this.api.insert(id, child, label), { focusNew: true }),
      onChangeRule: (label) => this.run(() => this.api.changeRule(id, label)),
      onSettings: (values) => this.saveSettings(id, values),
    });
    this.loadDetail(id);
    if (data.has_edit_screen) this.loadEditScreen(id);
  }

  // What only the node endpoint tells (links, insert and rule options).
  async loadDetail(id) {
    let detail;
    try {
      detail = await this.api.node(id);
    } catch (err) {
      if (this.selected === id) this.panel.detailFailed(err.detail);
      return;
    }
    if (this.selected !== id) return;
    this.detail = detail;
    this.panel.renderDetail(detail);
  }

  // Settings refused by the rule's form stay in the panel, each problem at
  // its field; anything else is refused as every edit is.
  async saveSettings(id, values) {
    if (this.busy) return;
    this.busy = true;
    this.root.classList.add("flowr-busy");
    this.hideBanner();
    try {
      await this.api.settings(id, values);
      await this.reload();
    } catch (err) {
      if (err.code === "invalid_settings") {
        if (this.selected === id) this.panel.settingsRefused(err.problems, err.detail);
      } else {
        await this.fail(err);
      }
    } finally {
      this.busy = false;
      this.root.classList.remove("flowr-busy");
    }
  }

  tapNode(ele) {
    if (this.simulator.active) {
      this.simulator.tapNode(ele);
    } else if (this.mode && this.mode.kind === "connect") {
      this.pickTarget(ele);
    } else {
      this.selectNode(ele.data("node"));
    }
  }

  tapBackground() {
    if (this.simulator.active) return;
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

  confirmDisconnect(child) {
    const source = this.nodes.get(this.selected);
    const edge = this.graph.cy.getElementById(`e${source.node}_${child}`);
    this.cancelMode();
    this.mode = { kind: "disconnect" };
    if (edge.length) this.graph.markDoomed(edge);
    this.panel.showMode("disconnect",
      h("p", {}, interpolate(gettext("Delete the link from %(parent)s to %(child)s? Both nodes stay in the flow."),
        { parent: nodeName(source, source.node), child: nodeName(this.nodes.get(child), child) })),
      this.modeButtons(gettext("Delete the link"), () => this.run(() => this.api.disconnect(source.node, child))));
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
    const chosen = this.nodes.get(id);
    const doomed = this.graph.cy.collection(detail.prune_list.map((pk) => this.graph.node(pk)).filter(Boolean));
    const above = new Map((detail.prune_above || []).map((row) => [row.node, row]));
    this.mode = { kind: "prune", ids: detail.prune_list };
    this.graph.markDoomed(doomed);
    for (const pk of above.keys()) {
      const ele = this.graph.node(pk);
      if (ele) ele.addClass("above");
    }
    // the nodes above the chosen one first: they are the surprise
    const order = [...above.keys(), ...detail.prune_list.filter((pk) => !above.has(pk))];
    const listed = order.slice(0, Math.max(LISTED, above.size)).map((pk) => {
      const data = this.nodes.get(pk);
      const row = above.get(pk);
      if (row) {
        return h("li", { class: "flowr-above", dataset: { node: pk } },
          interpolate(gettext("also removes %(node)s, above %(chosen)s, because %(because)s"),
            { node: nodeName(data || { rule_name: row.rule_name }, pk), chosen: chosen.verbose_name || chosen.rule_name,
              because: row.because }));
      }
      return h("li", { dataset: { node: pk } }, nodeName(data, pk));
    });
    const count = detail.prune_list.length;
    if (order.length > listed.length) {
      listed.push(h("li", {}, interpolate(gettext("\u2026 and %(count)s more"), { count: order.length - listed.length })));
    }
    this.panel.showMode("prune",
      h("p", {}, gettext("Prune removes"), " ", h("strong", { id: "flowr-prune-count" }, String(count)), " ",
        ngettext("node, highlighted in red:", "nodes, highlighted in red:", count)),
      h("ul", { class: "flowr-prune-list" }, listed),
      this.modeButtons(interpolate(ngettext("Prune %(count)s node", "Prune %(count)s nodes", count), { count }),
        () => this.run(() => this.api.prune(id))));
  }

  // -- talking to the server ------------------------------------------------
  // Send an edit, then reload.  With focusNew the answer is a new node's
  // detail, and that node is brought into view.
  async run(action, { focusNew = false } = {}) {
    if (this.busy) return;
    this.busy = true;
    this.root.classList.add("flowr-busy");
    this.hideBanner();
    try {
      const answer = await action();
      this.mode = null;
      await this.reload(focusNew && answer ? answer.node : null);
    } catch (err) {
      await this.fail(err);
    } finally {
      this.busy = false;
      this.root.classList.remove("flowr-busy");
    }
  }

  // Show the refusal, then show the graph as the server has it.
  async fail(err) {
    this.mode = null;
    try {
      await this.reload();
      this.showBanner(err);
    } catch (again) {
      this.showBanner(err, again);
    }
  }

  // The server's message (never "null"), its code when it names a rule.
  showBanner(err, reloadErr = null) {
    const message = err.detail || err.message || gettext("Something went wrong.");
    const conflict = err.code === "concurrent_edit";
    const text = conflict
      ? interpolate(gettext("Not applied: %(reason)s The graph now shows the flow as it is."), { reason: message })
      : interpolate(gettext("The server refused: %(reason)s"), { reason: message });
    const code = typeof err.shownCode === "string" ? err.shownCode : null;
    // (replaceChildren would write a null out as the text "null": filtered)
    this.banner.replaceChildren(...[
      h("span", { id: "flowr-banner-text" }, text),
      code ? h("code", { class: "flowr-banner-code" }, code) : null,
      reloadErr
        ? h("span", {}, " ", interpolate(gettext("(reloading the graph failed too: %(reason)s)"),
          { reason: reloadErr.detail || reloadErr.message }))
        : null,
      h("button", { type: "button", class: "flowr-banner-close", "aria-label": gettext("Dismiss"),
        onclick: () => this.hideBanner() }, "\u00d7"),
    ].filter(Boolean));
    this.banner.dataset.code = err.code || "";
    this.banner.hidden = false;
    this.graph.moved();
  }

  hideBanner() {
    if (this.banner.hidden) return;
    this.banner.hidden = true;
    this.banner.replaceChildren();
    delete this.banner.dataset.code;
    this.graph.moved();
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
    on("flowr-undo", () => this.undo());
    on("flowr-redo", () => this.redo());
    on("flowr-clone", () => this.clone());
    on("flowr-simulate", () => {
      this.selectNode(null);
      this.simulator.toggle();
    });
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
