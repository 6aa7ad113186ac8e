// The editor's "Simulate" mode: a dry run of the flow through
// POST flows/<id>/simulate/ -- the real guards, permissions (the user's),
// callbacks and signals, inside a transaction the server rolls back, so
// nothing is kept and the flow is not frozen.  It works on frozen flows too.
//
// Each click on an allowed child runs the simulation again with one more
// choice (max_steps = the number of choices), so what is shown is always the
// server's answer.  Nodes are coloured with the verdicts: the path walked,
// the node reached, its children allowed (green) or refused (red, the reason
// in the side panel), a child whose transition raised (black).
//
// When the flow has timers, "Wait until" fast-forwards the walk (the API's
// `now`): at each node the timers due by then fire first, and each step
// lists them.  The walk stops once the choices are taken
// (stop_after_choices), so a timeout moving the State is a step of its own.

import { gettext, h, interpolate } from "./dom.js";

const STYLE = [
  { selector: "node.sim-path", style: { "border-width": 4, "border-color": "#264b5d", "border-style": "solid" } },
  {
    selector: "node.sim-current",
    style: { "underlay-color": "#417690", "underlay-opacity": 0.7, "underlay-padding": 10, "underlay-shape": "round-rectangle" },
  },
  { selector: "node.sim-allowed", style: { "background-color": "#2e9d4f" } },
  { selector: "node.sim-refused", style: { "background-color": "#ba2121" } },
  { selector: "node.sim-error", style: { "background-color": "#000", "border-color": "#ba2121", "border-width": 4 } },
  { selector: ".sim-dimmed", style: { opacity: 0.35 } },
];
const CLASSES = "sim-path sim-current sim-allowed sim-refused sim-error sim-dimmed";

function nodeLabel(node) {
  return `${node.rule_name} #${node.id}`;
}

export class Simulator {
  // api: ApiClient; graph: GraphView; box: the side panel section; button: the toolbar's toggle
  constructor({ api, graph, box, button, flowId, subjectTypes }) {
    this.api = api;
    this.graph = graph;
    this.box = box;
    this.button = button;
    this.flowId = flowId;
    this.subjectTypes = subjectTypes || [];
    this.active = false;
    this.choices = [];
    this.subject = null; // { subject_type, subject_id } or null
    this.now = ""; // "Wait until": a datetime-local value (the site's time zone), or ""
    this.report = null;
    this.styled = false;
    this.runs = 0; // answers to older requests are dropped
  }

  toggle() {
    if (this.active) this.stop();
    else this.start();
  }

  start() {
    this.active = true;
    this.button.setAttribute("aria-pressed", "true");
    this.box.hidden = false;
    if (!this.styled) {
      const style = this.graph.cy.style();
      for (const rule of STYLE) style.selector(rule.selector).style(rule.style);
      style.update();
      this.styled = true;
    }
    this.reset();
  }

  stop() {
    this.active = false;
    this.runs += 1;
    this.button.setAttribute("aria-pressed", "false");
    this.box.hidden = true;
    this.box.replaceChildren();
    this.report = null;
    this.unpaint();
  }

  reset() {
    this.choices = [];
    return this.run();
  }

  // The current (last) step of the walk, or null.
  get current() {
    if (!this.report) return null;
    const steps = this.report.paths[0].steps;
    return steps[steps.length - 1];
  }

  // A click on a graph node: take it when it is an allowed child of the current step.
  tapNode(ele) {
    const id = ele.data("node");
    const step = this.current;
    if (!step || !step.reached) return;
    const child = step.children.find((c) => c.node.id === id);
    if (child && child.allowed) this.take(id);
  }

  take(nodeId) {
    // the choices that moved the State (a failed one is replaced by the new
    // choice; a timeout's move is not a choice)
    const moved = this.report.paths[0].steps.filter(
      (s) => s.taken !== null && !s.error && !s.timers.includes("timeout")).length;
    this.choices = this.choices.slice(0, moved);
    this.choices.push(nodeId);
    return this.run();
  }

  async run() {
    const body = { choices: this.choices, stop_after_choices: true };
    if (this.subject) Object.assign(body, this.subject);
    if (this.now) body.now = this.now;
    const run = ++this.runs;
    this.box.setAttribute("aria-busy", "true");
    let report;
    try {
      report = await this.api.simulate(this.flowId, body);
    } catch (err) {
      if (run !== this.runs) return;
      this.box.removeAttribute("aria-busy");
      this.report = null;
      this.unpaint();
      this.render(err.detail || String(err.message));
      return;
    }
    if (run !== this.runs) return;
    this.box.removeAttribute("aria-busy");
    this.report = report;
    this.paint();
    this.render(null);
  }

  // -- the graph -------------------------------------------------------------
  unpaint() {
    const cy = this.graph.cy;
    cy.batch(() => cy.elements().removeClass(CLASSES));
  }

  paint() {
    const cy = this.graph.cy;
    const steps = this.report.paths[0].steps;
    const step = steps[steps.length - 1];
    cy.batch(() => {
      cy.elements().removeClass(CLASSES).addClass("sim-dimmed");
      const mark = (id, cls) => {
        const ele = this.graph.node(id);
        if (ele) ele.removeClass("sim-dimmed").addClass(cls);
      };
      for (const s of steps) if (s.reached) mark(s.node.id, "sim-path");
      if (step.reached) mark(step.node.id, "sim-current");
      for (const child of step.children) mark(child.node.id, child.allowed ? "sim-allowed" : "sim-refused");
      if (step.error && step.taken !== null) {
        const ele = this.graph.node(step.taken);
        if (ele) ele.removeClass("sim-allowed sim-dimmed").addClass("sim-error");
      }
    });
  }

  // -- the side panel ------------------------------------------------------------
  render(failure) {
    const children = [
      h("h2", {}, gettext("Simulation")),
      h("p", { class: "help" }, gettext("A dry run with the real rules: guards, callbacks and signals run, nothing is saved.")),
      this.subjectForm(),
      this.nowForm(),
      h("p", { class: "flowr-mode-buttons" },
        h("button", { type: "button", class: "button", id: "flowr-sim-reset", onclick: () => this.reset() }, gettext("Reset")),
        " ",
        h("button", { type: "button", class: "button", id: "flowr-sim-exit", onclick: () => this.stop() }, gettext("Exit simulation"))),
    ];
    if (failure) {
      children.push(h("p", { class: "errornote", id: "flowr-sim-failure" }, failure));
    } else if (this.report) {
      children.push(this.steps(), this.next());
    }
    this.box.replaceChildren(...children);
  }

  subjectForm() {
    if (!this.subjectTypes.length) return null;
    const select = h("select", { id: "flowr-sim-subject-type", "aria-label": gettext("Subject type") },
      h("option", { value: "" }, gettext("No subject")),
      this.subjectTypes.map((t) => h("option", { value: t, selected: this.subject && this.subject.subject_type === t }, t)));
    const input = h("input", {
      type: "text", id: "flowr-sim-subject-id", size: 8, maxlength: 255, "aria-label": gettext("Subject id"),
      value: this.subject ? this.subject.subject_id : "",
    });
    const apply = (evt) => {
      evt.preventDefault();
      const type = select.value;
      const id = input.value.trim();
      this.subject = type && id ? { subject_type: type, subject_id: id } : null;
      this.reset();
    };
    return h("form", { class: "flowr-sim-subject", onsubmit: apply },
      h("label", { for: "flowr-sim-subject-type" }, gettext("Subject")), " ", select, " ", input, " ",
      h("button", { type: "submit", class: "button", id: "flowr-sim-subject-apply" }, gettext("Use")));
  }

  // "Wait until", shown when a node of the flow has a timer (or one is set).
  nowForm() {
    if (!this.now && !this.graph.cy.nodes("[?timer]").length) return null;
    const input = h("input", {
      type: "datetime-local", id: "flowr-sim-now", value: this.now, "aria-describedby": "flowr-sim-now-help",
    });
    const apply = (evt) => {
      evt.preventDefault();
      this.now = input.value;
      this.reset();
    };
    return h("form", { class: "flowr-sim-now", onsubmit: apply },
      h("label", { for: "flowr-sim-now" }, gettext("Wait until")), " ", input, " ",
      h("button", { type: "submit", class: "button", id: "flowr-sim-now-apply" }, gettext("Use")),
      h("p", { class: "help", id: "flowr-sim-now-help" },
        gettext("The timers due by then fire at each node (the site's time zone). Empty: no time passes.")));
  }

  steps() {
    const steps = this.report.paths[0].steps;
    return h("ol", { id: "flowr-sim-steps", class: "flowr-sim-steps" }, steps.map((step) => h("li", {
      dataset: { node: String(step.node.id) },
    },
    h("strong", {}, nodeLabel(step.node)),
    step.reached ? null : [" ", h("em", {}, gettext("(not reached)"))],
    this.calls(step.callbacks),
    this.timers(step.timers),
    step.error ? this.error(step) : null)));
  }

  // The timers fired at a step: "reminder", "timeout" (the State moved), or
  // "<kind> refused" / "<kind> failed".
  timers(fired) {
    if (!fired || !fired.length) return null;
    const words = {
      reminder: gettext("reminder sent"),
      timeout: gettext("timed out"),
      "reminder failed": gettext("reminder failed"),
      "timeout refused": gettext("timeout refused"),
      "timeout failed": gettext("timeout failed"),
    };
    return h("ul", { class: "flowr-sim-timers" }, fired.map((kind) => h("li", { dataset: { timer: kind } },
      `\u23f0 ${words[kind] || kind}`)));
  }

  calls(calls) {
    if (!calls.length) return null;
    const words = { ran: gettext("ran"), skipped: gettext("skipped (not simulation safe)"), raised: gettext("raised") };
    return h("ul", { class: "flowr-sim-calls" }, calls.map((c) => h("li", { class: `flowr-sim-${c.outcome}` },
      `${c.hook} ${c.rule_label.split(".").pop()}: ${words[c.outcome] || c.outcome}`)));
  }

  error(step) {
    return h("div", { class: "errornote flowr-sim-error" },
      this.calls(step.error.callbacks),
      interpolate(gettext("Stopped: %(type)s: %(message)s"), { type: step.error.type, message: step.error.message }));
  }

  // What the current step offers: a button per allowed child, the reason of each refused one.
  next() {
    const step = this.current;
    const outcome = this.report.paths[0].outcome;
    if (!step.reached) return null;
    if (outcome === "end") return h("p", { id: "flowr-sim-outcome" }, gettext("End reached: this node has no children."));
    const items = step.children.map((child) => h("li", {},
      child.allowed
        ? h("button", {
          type: "button", class: "button flowr-sim-take", dataset: { node: String(child.node.id) },
          onclick: () => this.take(child.node.id),
        }, nodeLabel(child.node))
        : [h("span", { class: "flowr-sim-refused", dataset: { node: String(child.node.id) } }, nodeLabel(child.node)),
          ": ", child.reason]));
    const heading = outcome === "blocked" ? gettext("No child may be taken:") : gettext("Next (click a green node or a button):");
    return h("div", { id: "flowr-sim-next" }, h("h3", {}, heading), h("ul", {}, items));
  }
}
