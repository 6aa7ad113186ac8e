// The graph drawing shared by the flow editor and the rule set view:
// cytoscape.js (vendored, window.cytoscape) with its built-in breadthfirst
// layout.  Elements come in the server's order (nodes in tree order, edges by
// source in that order, then by when they were added), so the same graph
// always gets the same layout.

// Above this many nodes, trade some rendering fidelity for speed.
const BIG_GRAPH = 300;
const MAX_FIT_ZOOM = 1.5;

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
      width: 96,
      height: 40,
      "background-color": COLORS.node,
      label: "data(display)",
      color: COLORS.nodeText,
      "font-size": 12,
      "font-family": "system-ui, sans-serif",
      "text-wrap": "wrap",
      "text-max-width": 90,
      "text-valign": "center",
      "text-halign": "center",
      "border-width": 1,
      "border-color": "#417690",
    },
  },
  { selector: "node.end", style: { "background-color": COLORS.end } },
  { selector: "node[?multiple_paths]", style: { shape: "hexagon", width: 110 } },
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
  { selector: "edge.doomed", style: { "line-color": COLORS.doomed, "target-arrow-color": COLORS.doomed, width: 3 } },
];

function displayLabel(data) {
  const name = data.verbose_name || data.rule_name;
  return data.state_count ? `${name}\n\u25cf ${data.state_count}` : name;
}

function decorate(elements) {
  const nodes = elements.nodes.map((n) => ({
    group: "nodes",
    data: { ...n.data, display: displayLabel(n.data) },
    classes: n.data.children && n.data.children.length === 0 ? "end" : "",
  }));
  const edges = elements.edges.map((e) => ({ group: "edges", data: { ...e.data } }));
  return nodes.concat(edges);
}

export class GraphView {
  // container: the element to draw in; size: expected node count (big
  // graphs render textures while panning); handlers: onNode(node), onBackground().
  constructor(container, size, handlers = {}) {
    const big = size > BIG_GRAPH;
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
    this.cy.on("tap", (evt) => {
      if (evt.target === this.cy && handlers.onBackground) {
        handlers.onBackground();
      }
    });
  }

  // Replace every element with the server's and lay them out again.  With
  // keepView the zoom and pan survive (the layout itself is deterministic).
  setElements(elements, { keepView = false } = {}) {
    const cy = this.cy;
    const viewport = { zoom: cy.zoom(), pan: { ...cy.pan() } };
    cy.batch(() => {
      cy.elements().remove();
      cy.add(decorate(elements));
    });
    this.layout(!keepView);
    if (keepView) {
      cy.viewport(viewport);
    }
  }

  layout(fit = true) {
    const roots = this.cy.nodes("[?is_root]");
    this.cy
      .layout({
        name: "breadthfirst",
        directed: true,
        roots: roots.length ? roots : undefined,
        animate: false,
        fit,
        padding: 30,
        spacingFactor: 1.15,
        avoidOverlap: true,
        nodeDimensionsIncludeLabels: false,
      })
      .run();
    if (fit) this.fit();
  }

  // Fit everything on screen, but never blow a small graph up past 1.5x.
  fit() {
    const cy = this.cy;
    cy.fit(undefined, 30);
    if (cy.zoom() > MAX_FIT_ZOOM) {
      cy.zoom(MAX_FIT_ZOOM);
      cy.center();
    }
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
    this.cy.batch(() => this.cy.elements().removeClass("candidate dimmed doomed source"));
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
