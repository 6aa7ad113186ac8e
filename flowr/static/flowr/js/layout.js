// Laying a graph out: ELK's layered algorithm (vendored elkjs), top-down,
// with orthogonal edge routing, and each edge drawn along the route ELK
// computed.  Above ELK_MAX_NODES nodes a fast breadth-first layout
// (cytoscape's own) is used instead.
//
// ELK runs in a web worker (elk-start.js starts it), so the page stays
// responsive while it works.
//
// Everything here is deterministic: the same elements in the same order
// (the server's: nodes in tree order, edges by source then age) always get
// the same positions, so a reload shows the same picture.

// Above this many nodes ELK takes too long in a browser (see docs/editor.md
// for the measured times); cytoscape's breadthfirst is used instead.
export const ELK_MAX_NODES = 1000;

export const FONT_SIZE = 12;
export const FONT_FAMILY = "system-ui, sans-serif";
const LINE_HEIGHT = 16;
const PAD_X = 14; // room between the label and the box's side
const MIN_WIDTH = 70;
const MAX_TEXT = 240; // labels wider than this wrap (text-overflow-wrap: anywhere)
const MIN_HEIGHT = 40;
const LAYER_GAP = 44;

const ELK_OPTIONS = {
  "elk.algorithm": "layered",
  "elk.direction": "DOWN",
  "elk.edgeRouting": "ORTHOGONAL",
  "elk.padding": "[top=20,left=20,bottom=20,right=20]",
  "elk.spacing.nodeNode": "30",
  "elk.spacing.edgeNode": "16",
  "elk.spacing.edgeEdge": "12",
  "elk.layered.spacing.nodeNodeBetweenLayers": String(LAYER_GAP),
  "elk.layered.spacing.edgeNodeBetweenLayers": "16",
  "elk.layered.spacing.edgeEdgeBetweenLayers": "12",
  // the server's order (tree order) decides which links are the loops:
  // a link to a node created earlier points back up.  (Keeping siblings in
  // model order during crossing minimisation, considerModelOrder, costs
  // 4-6x the time on 500 nodes: not used.)
  "elk.layered.cycleBreaking.strategy": "MODEL_ORDER",
  "elk.layered.considerModelOrder.strategy": "NONE",
  // fewer crossing-minimisation restarts than ELK's default 7: 1 takes
  // about 15 % less time than 2 on 500 nodes (benchmarks/editor.py)
  "elk.layered.thoroughness": "1",
  "elk.layered.unnecessaryBendpoints": "false",
  "elk.layered.mergeEdges": "false",
  "elk.randomSeed": "1",
};

// ELK, started by elk-start.js as the page's head loads (window.flowrElk:
// a promise of the instance; window.flowrElkThread: "worker" or "page").
export function elk() {
  if (!window.flowrElk) throw new Error("ELK was not started (elk-start.js)");
  return window.flowrElk;
}

let measureContext = null;

// The width in pixels of `text` in the graph's label font.
export function textWidth(text) {
  if (!measureContext) {
    measureContext = document.createElement("canvas").getContext("2d");
    measureContext.font = `${FONT_SIZE}px ${FONT_FAMILY}`;
  }
  return measureContext.measureText(text).width;
}

// A node's box for its label: {w, h, tw} (tw: the label's wrap width).
// Branching nodes are hexagons, whose slanted sides need more room.
export function nodeBox(label, hexagon = false) {
  let lines = 0;
  let widest = 0;
  for (const line of String(label).split("\n")) {
    const width = textWidth(line);
    lines += Math.max(1, Math.ceil(width / MAX_TEXT));
    widest = Math.max(widest, Math.min(width, MAX_TEXT));
  }
  const tw = Math.ceil(widest) + 2;
  const w = Math.max(MIN_WIDTH, Math.ceil(hexagon ? tw * 1.3 + 2 * PAD_X : tw + 2 * PAD_X));
  const h = Math.max(MIN_HEIGHT, lines * LINE_HEIGHT + 18);
  return { w, h, tw };
}

// cytoscape's "segments" edges place each bend point by a weight along the
// line between the two nodes' centres and a distance off it.
function segmentStyle(source, target, points) {
  const dx = target.x - source.x;
  const dy = target.y - source.y;
  const length2 = dx * dx + dy * dy;
  const length = Math.sqrt(length2);
  const weights = [];
  const distances = [];
  for (const p of points) {
    const px = p.x - source.x;
    const py = p.y - source.y;
    weights.push(((px * dx + py * dy) / length2).toFixed(4));
    // the unit normal cytoscape uses is (-dy, dx) / length
    distances.push(((px * -dy + py * dx) / length).toFixed(2));
  }
  return { sw: weights.join(" "), sd: distances.join(" ") };
}

function offset(point, centre) {
  return `${(point.x - centre.x).toFixed(2)}px ${(point.y - centre.y).toFixed(2)}px`;
}

// Lay `cy`'s elements out with ELK and route its edges; resolves when done.
// Where a node was before an edit (its centre), for the nodes that have no
// previous place (new ones): just right of and below a parent that has one.
function previousPlace(node, previous) {
  const own = previous.get(node.id());
  if (own) return own;
  for (const parent of node.incomers("node")) {
    const place = previous.get(parent.id());
    if (place) return { x: place.x + 1, y: place.y + parent.data("h") / 2 + LAYER_GAP + node.data("h") / 2 };
  }
  return null;
}

// previous: Map of node id -> centre before an edit, or null for a fresh
// layout (first load, Re-layout).  With it, the nodes keep their order in
// each layer (ELK's interactive crossing minimisation reads it from the old
// x positions), so an edit does not shuffle the picture; a new node starts
// one layer under its parent.
export async function layered(cy, { previous = null } = {}) {
  const nodes = cy.nodes();
  const interactive = previous && previous.size > 0;
  const options = { ...ELK_OPTIONS };
  if (interactive) options["elk.layered.crossingMinimization.strategy"] = "INTERACTIVE";
  const graph = {
    id: "root",
    layoutOptions: options,
    children: nodes.map((n) => {
      const child = { id: n.id(), width: n.data("w"), height: n.data("h") };
      const place = interactive ? previousPlace(n, previous) : null;
      if (place) {
        child.x = place.x - child.width / 2;
        child.y = place.y - child.height / 2;
      }
      return child;
    }),
    edges: cy.edges().filter((e) => !e.isLoop()).map((e) => ({
      id: e.id(),
      sources: [e.source().id()],
      targets: [e.target().id()],
    })),
  };
  const result = await (await elk()).layout(graph);
  performance.mark("flowr-elk-done"); // then the routes are drawn
  const centres = new Map();
  for (const child of result.children) {
    centres.set(child.id, { x: child.x + child.width / 2, y: child.y + child.height / 2 });
  }
  cy.batch(() => {
    for (const [id, centre] of centres) {
      cy.getElementById(id).position(centre);
    }
    for (const routed of result.edges) {
      const edge = cy.getElementById(routed.id);
      const section = routed.sections && routed.sections[0];
      if (!section) {
        edge.data({ route: "none" });
        continue;
      }
      const source = centres.get(edge.source().id());
      const target = centres.get(edge.target().id());
      const bends = section.bendPoints || [];
      edge.data({
        route: bends.length ? "segments" : "straight",
        se: offset(section.startPoint, source),
        te: offset(section.endPoint, target),
        ...(bends.length ? segmentStyle(source, target, bends) : { sw: "0.5", sd: "0" }),
      });
    }
    cy.edges().filter((e) => e.isLoop()).data({ route: "none" });
  });
}

// The fast fallback for big graphs: cytoscape's breadthfirst, straight edges.
export function breadthfirst(cy) {
  const roots = cy.nodes("[?is_root]");
  cy.edges().data({ route: "none" });
  cy.layout({
    name: "breadthfirst",
    directed: true,
    roots: roots.length ? roots : undefined,
    animate: false,
    fit: false,
    padding: 30,
    spacingFactor: 1.15,
    avoidOverlap: true,
    nodeDimensionsIncludeLabels: false,
  }).run();
}

// Lay out with ELK, or breadthfirst past the threshold (maxNodes) or when
// ELK cannot run; resolves to the name of the layout used.  beforeFallback
// is called before the breadthfirst layout (which needs the styles applied:
// graph.js ends its batch there).
export async function layout(cy, maxNodes = ELK_MAX_NODES, previous = null, beforeFallback = () => {}) {
  if (cy.nodes().length <= maxNodes && typeof window.ELK === "function") {
    try {
      await layered(cy, { previous });
      return "layered";
    } catch (error) {
      console.warn("flowr: ELK failed, using the breadthfirst layout:", error.message);
    }
  }
  beforeFallback();
  breadthfirst(cy);
  return "breadthfirst";
}
