// A small client of flowr's REST API (see docs/api.md), and the reading of
// its graph document.
//
// Every call sends the session cookie and the CSRF token; a refusal comes
// back as an ApiError carrying the server's `detail` and stable `code`.
// Every edit carries the revision of the graph document it was made on
// (ApiClient.revision, set by the editor on each load), so that the server
// can refuse an edit that conflicts with another one (409 concurrent_edit).

import { gettext, interpolate } from "./dom.js";

// Codes that add nothing to the server's message (the status says as much):
// the banner shows only the codes that name a rule of flowr.
const PLAIN_CODES = new Set([
  "error", "invalid", "not_found", "permission_denied", "not_authenticated", "authentication_failed",
  "method_not_allowed", "parse_error", "network_error", "throttled", "unsupported_media_type",
]);

export class ApiError extends Error {
  constructor(status, detail, code, problems = null) {
    const text = typeof detail === "string" && detail.trim() ? detail.trim() : statusMessage(status);
    super(text);
    this.problems = problems && typeof problems === "object" ? problems : null;
    this.name = "ApiError";
    this.status = status;
    this.detail = text;
    this.code = typeof code === "string" && code ? code : null;
  }

  // The code worth showing next to the message, or null.
  get shownCode() {
    return this.code && !PLAIN_CODES.has(this.code) && !this.code.startsWith("http_") ? this.code : null;
  }
}

function statusMessage(status) {
  return status ? interpolate(gettext("The server answered %(status)s."), { status })
    : gettext("The server could not be reached.");
}

// The token from the page's {% csrf_token %} input, else from the cookie.
export function csrfToken(root = document) {
  const input = root.querySelector("input[name=csrfmiddlewaretoken]");
  if (input && input.value) {
    return input.value;
  }
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class ApiClient {
  constructor(base, token) {
    this.base = base.endsWith("/") ? base : `${base}/`;
    this.token = token;
    this.revision = null; // the graph document's revision; null: not sent
  }

  // An edit: the body with the revision it was made on.
  edit(method, path, body = {}) {
    const sent = this.revision === null ? body : { ...body, revision: this.revision };
    return this.request(method, path, sent);
  }

  async request(method, path, body) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (method !== "GET") {
      headers["X-CSRFToken"] = this.token;
    }
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(this.base + path, init);
    } catch (err) {
      const text = interpolate(gettext("The server could not be reached (%(reason)s)."), { reason: err.message });
      throw new ApiError(0, text, "network_error");
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (err) {
      data = null;
    }
    if (!response.ok) {
      const detail = data && typeof data.detail === "string" ? data.detail : null;
      const code = data && typeof data.code === "string" ? data.code : `http_${response.status}`;
      throw new ApiError(response.status, detail, code, data ? data.problems : null);
    }
    return data;
  }

  flowGraph(flowId) {
    return this.request("GET", `flows/${flowId}/graph/`);
  }

  // A dry run (nothing is kept): body as POST flows/<id>/simulate/ takes it.
  simulate(flowId, body) {
    return this.request("POST", `flows/${flowId}/simulate/`, body);
  }

  renameFlow(flowId, name) {
    return this.edit("PATCH", `flows/${flowId}/`, { name });
  }

  cloneFlow(flowId) {
    return this.request("POST", `flows/${flowId}/clone/`, {});
  }

  node(nodeId) {
    return this.request("GET", `nodes/${nodeId}/`);
  }

  addChild(nodeId, ruleLabel) {
    return this.edit("POST", `nodes/${nodeId}/children/`, { rule: ruleLabel });
  }

  connect(nodeId, targetId) {
    return this.edit("POST", `nodes/${nodeId}/connect/`, { target: targetId });
  }

  disconnect(nodeId, childId) {
    return this.edit("POST", `nodes/${nodeId}/disconnect/`, { child: childId });
  }

  insert(nodeId, childId, ruleLabel) {
    return this.edit("POST", `nodes/${nodeId}/insert/`, { rule: ruleLabel, child: childId });
  }

  changeRule(nodeId, ruleLabel) {
    return this.edit("POST", `nodes/${nodeId}/rule/`, { rule: ruleLabel });
  }

  settings(nodeId, values) {
    return this.edit("PATCH", `nodes/${nodeId}/settings/`, { settings: values });
  }

  removeNode(nodeId) {
    // a DELETE carries its revision in the query
    const query = this.revision === null ? "" : `?revision=${encodeURIComponent(this.revision)}`;
    return this.request("DELETE", `nodes/${nodeId}/${query}`);
  }

  prune(nodeId) {
    return this.edit("POST", `nodes/${nodeId}/prune/`);
  }

  undo(flowId) {
    return this.edit("POST", `flows/${flowId}/undo/`);
  }

  redo(flowId) {
    return this.edit("POST", `flows/${flowId}/redo/`);
  }
}

// The API's graph document (flows/<id>/graph/: one row per node, what nodes
// share listed once) as cytoscape elements, each node's data holding every
// field the node endpoint gives.  Edges: each node's children in order; an
// edge is the backbone when the child was created under this node.
export function expandGraph(doc) {
  const col = Object.fromEntries(doc.node_columns.map((name, i) => [name, i]));
  const root = doc.flow.root_node;
  const nodes = [];
  const edges = [];
  const parentOf = new Map(doc.nodes.map((row) => [row[col.node], row[col.backbone_parent]]));
  for (const row of doc.nodes) {
    const pk = row[col.node];
    const rule = doc.rules[row[col.rule]];
    const options = doc.child_options[row[col.child_options]];
    const removal = doc.removals[row[col.removal]];
    const children = row[col.children];
    nodes.push({
      data: {
        id: `n${pk}`,
        node: pk,
        rule_label: rule.label,
        rule_name: rule.name,
        verbose_name: rule.verbose_name,
        missing_rule: rule.missing_rule,
        is_root: pk === root,
        can_remove: removal.can_remove,
        cannot_remove_reason: removal.reason,
        multiple_paths: rule.multiple_paths,
        has_edit_screen: rule.has_edit_screen,
        max_children: rule.max_children,
        allowed_child_rules: options.allowed_child_rules,
        full_reason: options.full_reason,
        children,
        state_count: row[col.state_count],
        timer: row[col.timer] === null ? null : doc.timers[row[col.timer]],
      },
    });
    for (const child of children) {
      edges.push({
        data: {
          id: `e${pk}_${child}`,
          source: `n${pk}`,
          target: `n${child}`,
          kind: parentOf.get(child) === pk ? "backbone" : "link",
        },
      });
    }
  }
  return { flow: doc.flow, elements: { nodes, edges } };
}
