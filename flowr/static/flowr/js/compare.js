// The compare page: two flows as one graph.  The newer flow's nodes and
// links, with what the diff (flowr.diff, GET flows/<a>/diff/<b>/) says
// marked: added (green), changed rule (orange), and the older flow's
// removed nodes and links drawn in red, dashed.  Read-only.

import { expandGraph } from "./api.js";
import { gettext, h, interpolate, readJson } from "./dom.js";
import { GraphView, STYLE } from "./graph.js";

const MARKS = [
  { selector: "node[diff = 'added']", style: { "background-color": "#2e9d4f", "border-color": "#1b5e30", "border-width": 4 } },
  { selector: "node[diff = 'changed']", style: { "background-color": "#e08e0b", "border-color": "#7a4d06", "border-width": 4 } },
  {
    selector: "node[diff = 'removed']",
    style: { "background-color": "#ba2121", "border-style": "dashed", "border-width": 3, "border-color": "#000", opacity: 0.8 },
  },
  { selector: "edge[diff = 'added']", style: { "line-color": "#2e9d4f", "target-arrow-color": "#2e9d4f", width: 3 } },
  {
    selector: "edge[diff = 'removed']",
    style: { "line-color": "#ba2121", "target-arrow-color": "#ba2121", "line-style": "dashed", width: 3 },
  },
];

// One graph: b's elements, then a's removed nodes and links (ids "r<node>").
export function unionElements(a, b, diff) {
  const older = expandGraph(a).elements;
  const newer = expandGraph(b).elements;
  const added = new Set(diff.added_nodes.map((n) => `n${n.node}`));
  const changed = new Map(diff.changed_nodes.map((n) => [`n${n.other}`, n]));
  const addedLinks = new Set(diff.added_links.map((x) => `e${x.source}_${x.target}`));
  const nodes = newer.nodes.map((n) => {
    const mark = added.has(n.data.id) ? "added" : changed.has(n.data.id) ? "changed" : "kept";
    return { data: { ...n.data, diff: mark, state_count: 0 } };
  });
  const edges = newer.edges.map((e) => ({ data: { ...e.data, diff: addedLinks.has(e.data.id) ? "added" : "kept" } }));
  const removed = new Set(diff.removed_nodes.map((n) => `n${n.node}`));
  for (const n of older.nodes) {
    if (removed.has(n.data.id)) {
      nodes.push({ data: { ...n.data, id: `r${n.data.node}`, diff: "removed", is_root: false, state_count: 0 } });
    }
  }
  const end = (own, other) => (other !== null ? `n${other}` : `r${own}`);
  for (const x of diff.removed_links) {
    const source = end(x.source, x.other_source);
    const target = end(x.target, x.other_target);
    edges.push({ data: { id: `x${x.source}_${x.target}`, source, target, kind: "link", diff: "removed" } });
  }
  return { nodes, edges };
}

function summary(diff) {
  const line = (text, count) => h("li", {}, interpolate(text, { count }));
  return h("ul", { class: "flowr-compare-summary" },
    line(gettext("%(count)s node(s) added"), diff.added_nodes.length),
    line(gettext("%(count)s node(s) removed"), diff.removed_nodes.length),
    line(gettext("%(count)s node(s) changed"), diff.changed_nodes.length),
    line(gettext("%(count)s link(s) added"), diff.added_links.length),
    line(gettext("%(count)s link(s) removed"), diff.removed_links.length));
}

class CompareView {
  constructor(root) {
    const data = readJson("flowr-compare-data");
    const elements = unionElements(data.a, data.b, data.diff);
    this.graph = new GraphView(document.getElementById("flowr-graph"), elements.nodes.length, {});
    this.graph.cy.style([...STYLE, ...MARKS]);
    document.getElementById("flowr-compare-summary").replaceChildren(summary(data.diff));
    this.ready = this.graph.setElements(elements).then(() => {
      root.dataset.ready = "true";
    });
    for (const [id, fn] of [
      ["flowr-fit", () => this.graph.fit()],
      ["flowr-zoom-in", () => this.graph.zoomBy(1.25)],
      ["flowr-zoom-out", () => this.graph.zoomBy(0.8)],
    ]) {
      document.getElementById(id).addEventListener("click", fn);
    }
  }
}

window.flowrCompare = new CompareView(document.getElementById("flowr-compare"));
