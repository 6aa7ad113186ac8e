// A small client of flowr's REST API (see docs/CONTRACT.md and the README).
//
// Every call sends the session cookie and the CSRF token; a refusal comes
// back as an ApiError carrying the server's `detail` and stable `code`.

export class ApiError extends Error {
  constructor(status, detail, code) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.code = code;
  }
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
      throw new ApiError(0, `The server could not be reached (${err.message}).`, "network_error");
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (err) {
      data = null;
    }
    if (!response.ok) {
      const detail = (data && (data.detail || JSON.stringify(data))) || `${response.status} ${response.statusText}`;
      const code = (data && data.code) || `http_${response.status}`;
      throw new ApiError(response.status, String(detail), code);
    }
    return data;
  }

  flowGraph(flowId) {
    return this.request("GET", `flows/${flowId}/graph/`);
  }

  renameFlow(flowId, name) {
    return this.request("PATCH", `flows/${flowId}/`, { name });
  }

  cloneFlow(flowId) {
    return this.request("POST", `flows/${flowId}/clone/`, {});
  }

  node(nodeId) {
    return this.request("GET", `nodes/${nodeId}/`);
  }

  addChild(nodeId, ruleLabel) {
    return this.request("POST", `nodes/${nodeId}/children/`, { rule: ruleLabel });
  }

  connect(nodeId, targetId) {
    return this.request("POST", `nodes/${nodeId}/connect/`, { target: targetId });
  }

  removeNode(nodeId) {
    return this.request("DELETE", `nodes/${nodeId}/`);
  }

  prune(nodeId) {
    return this.request("POST", `nodes/${nodeId}/prune/`, {});
  }
}
