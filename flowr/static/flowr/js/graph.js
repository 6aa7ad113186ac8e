// The graph drawing shared by the flow editor and the rule set view:
// cytoscape.js (vendored, window.cytoscape), laid out by layout.js (ELK's
// layered layout with routed edges, breadthfirst for very big graphs).
// Elements come in the server's order (nodes in tree order, edges by source
// in that order, then by when they were added), so the same graph always
// gets the same layout.  Each node is as wide as its label.

import { ELK_MAX_NODES, FONT_FAMILY, FONT_SIZE, layout, nodeBox } from "./layout.js";

// Above this many nodes, trade some rendering fidelity for speed.
const BIG_GRAPH = 300;
const MAX_FIT_ZOOM = 1.5;
// After an edit the whole graph is fitted again when it is readable at this
// zoom or more; otherwise the zoom stays and the edited node is brought into view.
const READABLE_ZOOM = 0.6;
const ANIMATION_MS = 200;
const FIT_PADDING = 30;

const COLORS = {
  node: "#79aec8",
  nodeText: "#fff",
  root: "#264b5d",
  end: "#9aa5ab",
  missing: "#ba2121",
  states: "#e08e0b",
  selected: "#ffc107",
  candidate: "#2e9d4f",
  doomed: "#ba2121",
  edge: "#7a8a93",
};

export const STYLE = [
  {
    selector: "node",
    style: {
      shape: "round-rectangle",
      width: "data(w)",
      height: "data(h)",
      "background-color": COLORS.node,
      label: "data(display)",
      color: COLORS.nodeText,
      "font-size": FONT_SIZE,
      "font-family": FONT_FAMILY,
      "text-wrap": "wrap",
      "text-max-width": "data(tw)",
      "text-overflow-wrap": "anywhere",
      "text-valign": "center",
      "text-halign": "center",
      "border-width": 1,
      "border-color": "#417690",
    },
  },
  { selector: "node.end", style: { "background-color": COLORS.end } },
  { selector: "node[?multiple_paths]", style: { shape: "hexagon" } },
  {
    selector: "node[?is_root]",
    style: { "border-width": 6, "border-style": "double", "border-color": COLORS.root },
  },
  {
    selector: "node[?missing_rule]",
    style: { "background-color": COLORS.missing, "border-style": "dashed", "border-width": 3, "border-color": "#000" },
  },
  { selector: "node[state_count > 0]", style: { "border-width": 5, "border-color": COLORS.states } },
  {
    selector: "edge",
    style: {
      width: 2,
      "curve-style": "bezier",
      "line-color": COLORS.edge,
      "target-arrow-color": COLORS.edge,
      "target-arrow-shape": "triangle",
      "arrow-scale": 1.1,
    },
  },
  // the route ELK computed: from the exact start point, through the bend
  // points, to the exact end point (layout.js)
  {
    selector: "edge[route = 'straight']",
    style: { "curve-style": "straight", "source-endpoint": "data(se)", "target-endpoint": "data(te)" },
  },
  {
    selector: "edge[route = 'segments']",
    style: {
      "curve-style": "segments",
      "edge-distances": "node-position",
      "segment-weights": "data(sw)",
      "segment-distances": "data(sd)",
      "source-endpoint": "data(se)",
      "target-endpoint": "data(te)",
    },
  },
  { selector: "edge[kind = 'link']", style: { "line-style": "dashed" } },
  {
    selector: "node.selected, node.source",
    style: { "underlay-color": COLORS.selected, "underlay-opacity": 0.8, "underlay-padding": 8, "underlay-shape": "round-rectangle" },
  },
  { selector: "node.candidate", style: { "background-color": COLORS.candidate, "border-color": "#1b5e30", "border-width": 4 } },
  { selector: ".dimmed", style: { opacity: 0.25 } },
  {
    selector: "node.doomed",
    style: { "background-color": COLORS.doomed, "border-color": "#000", "border-width": 4, "border-style": "solid" },
  },
  { selector: "node.above", style: { "border-style": "double", "border-width": 6, "border-color": "#000" } },
  { selector: "edge.doomed", style: { "line-color": COLORS.doomed, "target-arrow-color": COLORS.doomed, width: 3 } },
];

// A node with a timer wears a clock before its name; its tooltip (the
// container's title while the pointer is on it) is the server's sentence.
const CLOCK = "\u23f0";

function displayLabel(data) {
  const name = data.timer ? `${CLOCK} ${data.verbose_name || data.rule_name}` : data.verbose_name || data.rule_name;
  return data.state_count ? `${name}\n\u25cf ${data.state_count}` : name;
}

function decorate(elements) {
  const nodes = elements.nodes.map((n) => {
    const display = displayLabel(n.data);
    return {
      group: "nodes",
      data: { ...n.data, display, ...nodeBox(display, Boolean(n.data.multiple_paths)) },
      classes: n.data.children && n.data.children.length === 0 ? "end" : "",
    };
  });
  const edges = elements.edges.map((e) => ({ group: "edges", data: { ...e.data } }));
  return nodes.concat(edges);
}

export class GraphView {
  // container: the element to draw in; size: expected node count (big
  // graphs render textures while panning); handlers: onNode(node), onBackground().
  constructor(container, size, handlers = {}) {
    const big = size > BIG_GRAPH;
    this.elkMaxNodes = ELK_MAX_NODES; // above: the fast breadthfirst layout
    this.layoutName = null; // "layered" or "breadthfirst", once laid out
    this.layoutMs = null; // how long the last layout took (ms)
    this.elkThread = null; // where ELK ran: "worker" or "page" (elk-start.js)
    this.cy = window.cytoscape({
      container,
      style: STYLE,
      minZoom: 0.02,
      maxZoom: 4,
      autoungrabify: true, // nodes stay where the layout puts them
      autounselectify: true, // the editor keeps its own "selected" class
      boxSelectionEnabled: false,
      textureOnViewport: big,
      hideEdgesOnViewport: big,
      motionBlur: false,
      pixelRatio: big ? 1 : "auto",
    });
    this.cy.on("tap", "node", (evt) => handlers.onNode && handlers.onNode(evt.target));
    this.cy.on("mouseover", "node[?timer]", (evt) => {
      const timer = evt.target.data("timer");
      container.title = timer ? timer.text : "";
    });
    this.cy.on("mouseout", "node", () => {
      container.title = "";
    });
    this.cy.on("tap", (evt) => {
      if (evt.target === this.cy && handlers.onBackground) {
        handlers.onBackground();
      }
    });
  }

  // Replace every element with the server's and lay them out again;
  // resolves when the graph is drawn and the view has settled.  Without
  // keepView the whole graph is fitted.  With keepView (after an edit) the
  // zoom stays and `anchor` (a node id: the node being edited) stays where
  // it was on the screen; then the graph is fitted again if it is readable
  // that way, else `focus` (a node id: e.g. a new node) is brought into view.
  async setElements(elements, { keepView = false, anchor = null, focus = null } = {}) {
    const cy = this.cy;
    const zoom = cy.zoom();
    const pan = { ...cy.pan() };
    const anchorBefore = anchor !== null && this.node(anchor) ? this.node(anchor).renderedPosition() : null;
    // after an edit the nodes keep their order (layout.js)
    const previous = keepView ? new Map(cy.nodes().map((n) => [n.id(), { ...n.position() }])) : null;
    // One batch from adding the elements to their laid-out places: cytoscape
    // draws no frame of nodes piled at the origin while ELK works, and ELK's
    // worker gets the CPU that drawing would take.  The breadth-first
    // fallback reads the elements' styles, so the batch ends before it.
    let batching = true;
    const endBatch = () => {
      if (batching) {
        batching = false;
        cy.endBatch();
      }
    };
    cy.startBatch();
    try {
      cy.elements().remove();
      cy.add(decorate(elements));
      this.layoutName = await this.timed(() => layout(cy, this.elkMaxNodes, previous, endBatch));
    } finally {
      endBatch();
    }
    if (!keepView) {
      this.fit();
      return;
    }
    cy.viewport({ zoom, pan });
    const anchored = anchor !== null ? this.node(anchor) : null;
    if (anchorBefore && anchored) {
      const now = anchored.renderedPosition();
      cy.panBy({ x: anchorBefore.x - now.x, y: anchorBefore.y - now.y });
    }
    await this.settle(focus !== null ? this.node(focus) : null);
  }

  // After an edit: refit when the whole graph is readable that way (so a
  // growing graph is never left at a zoom where new nodes fall outside),
  // else bring `ele` into view.  Animated; resolves when done.
  async settle(ele) {
    const cy = this.cy;
    const target = this.fitViewport();
    if (target && target.zoom >= READABLE_ZOOM && !this.allVisible()) {
      await this.animate(target);
    } else if (ele && !this.visible(ele)) {
      await this.animate({ zoom: cy.zoom(), pan: this.panCentring(ele, cy.zoom()) });
    }
  }

  animate(viewport) {
    return this.cy.animation({ zoom: viewport.zoom, pan: viewport.pan, duration: ANIMATION_MS }).play().promise();
  }

  // The viewport fit() would set ({zoom, pan}), or null for an empty graph.
  fitViewport() {
    const cy = this.cy;
    const box = cy.elements().boundingBox();
    if (!cy.nodes().length || box.w === 0 || box.h === 0) return null;
    const width = cy.width() - 2 * FIT_PADDING;
    const height = cy.height() - 2 * FIT_PADDING;
    let zoom = Math.min(width / box.w, height / box.h, MAX_FIT_ZOOM);
    zoom = Math.max(cy.minZoom(), Math.min(cy.maxZoom(), zoom));
    const pan = {
      x: (cy.width() - zoom * (box.x1 + box.x2)) / 2,
      y: (cy.height() - zoom * (box.y1 + box.y2)) / 2,
    };
    return { zoom, pan };
  }

  panCentring(ele, zoom) {
    const p = ele.position();
    return { x: this.cy.width() / 2 - zoom * p.x, y: this.cy.height() / 2 - zoom * p.y };
  }

  visible(ele) {
    const ext = this.cy.extent();
    const box = ele.boundingBox();
    return box.x1 >= ext.x1 && box.x2 <= ext.x2 && box.y1 >= ext.y1 && box.y2 <= ext.y2;
  }

  allVisible() {
    return this.visible(this.cy.elements());
  }

  // Run a layout, timed: layoutMs, and the performance entry
  // "flowr-layout" (between the marks flowr-layout-start and -end; within
  // it, layout.js marks flowr-elk-done when ELK's answer came, and
  // flowr-elk-ready when its worker had started).
  async timed(run) {
    const start = performance.mark("flowr-layout-start");
    const name = await run();
    const end = performance.mark("flowr-layout-end");
    performance.measure("flowr-layout", "flowr-layout-start", "flowr-layout-end");
    this.layoutMs = end.startTime - start.startTime;
    this.elkThread = window.flowrElkThread || null;
    return name;
  }

  async layout(fit = true) {
    this.layoutName = await this.timed(() => layout(this.cy, this.elkMaxNodes));
    if (fit) this.fit();
  }

  // Fit everything on screen, but never blow a small graph up past 1.5x.
  fit() {
    const target = this.fitViewport();
    if (target) this.cy.viewport(target);
  }

  // The canvas moved on the page (a banner came or went): cytoscape caches
  // where its container is, and clicks would land off their nodes.
  moved() {
    this.cy.resize();
  }

  zoomBy(factor) {
    const cy = this.cy;
    cy.zoom({ level: cy.zoom() * factor, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
  }

  node(id) {
    const found = this.cy.getElementById(`n${id}`);
    return found.length ? found : null;
  }

  select(ele) {
    this.cy.batch(() => {
      this.cy.nodes(".selected").removeClass("selected");
      if (ele) {
        ele.addClass("selected");
      }
    });
  }

  // Bring a node into view without changing the zoom.
  reveal(ele) {
    const ext = this.cy.extent();
    const p = ele.position();
    if (p.x < ext.x1 || p.x > ext.x2 || p.y < ext.y1 || p.y > ext.y2) {
      this.cy.center(ele);
    }
  }

  clearMarks() {
    this.cy.batch(() => this.cy.elements().removeClass("candidate dimmed doomed above source"));
  }

  // Connect mode: the source is marked, candidates stand out, the rest dims.
  markCandidates(source, candidates) {
    const cy = this.cy;
    cy.batch(() => {
      cy.elements().addClass("dimmed");
      candidates.removeClass("dimmed").addClass("candidate");
      source.removeClass("dimmed").addClass("source");
    });
  }

  // Prune preview: these nodes and every edge touching them go red.
  markDoomed(nodes) {
    this.cy.batch(() => {
      nodes.addClass("doomed");
      nodes.connectedEdges().addClass("doomed");
    });
  }
}
