// The editor's migration page: move a flow's running States to another
// flow of its rule set through the REST API (POST flows/<id>/migrate/).
// A dry run without a mapping gives the counts per node and the automatic
// mapping; every node holding States gets a picker (those with no
// automatic target must be picked); "Dry run" shows exactly what would
// move, "Move the states" moves them all or none.

import { ApiClient, ApiError, csrfToken } from "./api.js";
import { gettext, h, interpolate, ngettext, readJson } from "./dom.js";

class MigrationPage {
  constructor(root) {
    this.root = root;
    this.data = readJson("flowr-migrate-data");
    this.api = new ApiClient(this.data.api, csrfToken(root));
    this.rows = document.getElementById("flowr-migrate-rows");
    this.result = document.getElementById("flowr-migrate-result");
    this.moveButton = document.getElementById("flowr-migrate-move");
    document.getElementById("flowr-migrate-dry-run").addEventListener("click", () => this.run(true));
    this.moveButton.addEventListener("click", () => this.run(false));
    this.ready = this.load().then(() => {
      root.dataset.ready = "true";
    });
  }

  path() {
    return `flows/${this.data.flow}/migrate/`;
  }

  async load() {
    const report = await this.api.request("POST", this.path(), { target: this.data.target, dry_run: true });
    const counts = new Map();
    const automatic = new Map();
    for (const move of report.moves) {
      counts.set(move.source_node, (counts.get(move.source_node) || 0) + 1);
      automatic.set(move.source_node, move.target_node);
    }
    for (const item of report.unmapped) counts.set(item.node, item.states.length);
    const options = Object.entries(this.data.target_nodes);
    this.rows.replaceChildren(...[...counts.keys()].sort((a, b) => a - b).map((node) => {
      const auto = automatic.get(node);
      const select = h("select", { name: `map_${node}`, id: `flowr-map-${node}`, dataset: { node: String(node) } },
        h("option", { value: "" }, auto === undefined ? gettext("— choose —") : gettext("automatic")),
        ...options.map(([value, text]) => h("option", { value }, text)));
      return h("tr", { class: auto === undefined ? "flowr-unmapped" : "", dataset: { node: String(node) } },
        h("td", {}, this.data.source_nodes[node] || String(node)),
        h("td", {}, String(counts.get(node))),
        h("td", {}, auto === undefined ? gettext("none: choose one") : this.data.target_nodes[auto]),
        h("td", {}, select));
    }));
    if (!counts.size) {
      this.rows.replaceChildren(h("tr", {}, h("td", { colspan: "4" }, gettext("No state runs on this flow."))));
    }
  }

  mapping() {
    const mapping = {};
    for (const select of this.rows.querySelectorAll("select")) {
      if (select.value) mapping[select.dataset.node] = Number(select.value);
    }
    return mapping;
  }

  async run(dryRun) {
    const body = { target: this.data.target, mapping: this.mapping(), dry_run: dryRun };
    this.moveButton.hidden = true;
    try {
      const report = await this.api.request("POST", this.path(), body);
      this.show(report);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.result.replaceChildren(h("p", { class: "errornote" },
        interpolate(gettext("Nothing moved: %(reason)s"), { reason: err.detail })));
    }
  }

  show(report) {
    const { source_nodes: mine, target_nodes: theirs } = this.data;
    if (report.unmapped.length) {
      const count = report.unmapped.length;
      this.result.replaceChildren(h("p", { class: "errornote" }, interpolate(ngettext(
        "%(count)s node holds states and has no target: choose one.",
        "%(count)s nodes hold states and have no target: choose one each.", count), { count })));
      return;
    }
    const lines = report.moves.map((m) => h("li", {}, interpolate(gettext("state %(state)s: %(source)s → %(target)s"),
      { state: m.state, source: mine[m.source_node], target: theirs[m.target_node] })));
    const count = report.moves.length;
    const head = report.dry_run
      ? interpolate(ngettext("%(count)s state would move:", "%(count)s states would move:", count), { count })
      : interpolate(ngettext("Moved %(count)s state.", "Moved %(count)s states.", report.moved), { count: report.moved });
    this.result.replaceChildren(h("p", { class: report.dry_run ? "" : "flowr-done" }, head), h("ul", {}, ...lines));
    this.moveButton.hidden = !report.dry_run;
    if (!report.dry_run) {
      this.result.append(h("p", {}, h("a", { href: this.data.target_url }, gettext("Open the target flow"))));
    }
  }
}

window.flowrMigrate = new MigrationPage(document.getElementById("flowr-migrate"));
