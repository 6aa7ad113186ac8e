// What the editor points out while a flow is built: nodes whose rule is
// missing, branching nodes with a single child, and the ends of the flow.

import { gettext, h, interpolate } from "./dom.js";

// More entries than this per group are summarised ("and N more").
const SHOWN = 50;
// Longer groups start folded, so the legend stays in reach.
const OPEN_UP_TO = 12;

export function findProblems(nodes) {
  const missing = [];
  const singleBranch = [];
  const ends = [];
  for (const { data } of nodes) {
    if (data.missing_rule) {
      missing.push(data);
    }
    if (data.multiple_paths && data.children.length === 1) {
      singleBranch.push(data);
    }
    if (data.children.length === 0) {
      ends.push(data);
    }
  }
  return { missing, singleBranch, ends };
}

function group(title, kind, items, describe, onPick) {
  if (!items.length) {
    return null;
  }
  const list = h("ul", { class: "flowr-problem-list" });
  for (const data of items.slice(0, SHOWN)) {
    list.append(
      h(
        "li",
        {},
        h("button", { type: "button", class: "flowr-link", dataset: { node: data.node }, onclick: () => onPick(data.node) },
          `${data.verbose_name || data.rule_name} #${data.node}`),
        " ",
        describe(data),
      ),
    );
  }
  if (items.length > SHOWN) {
    list.append(h("li", { class: "flowr-more" }, interpolate(gettext("\u2026 and %(count)s more"), { count: items.length - SHOWN })));
  }
  return h("details", { class: `flowr-problem-group flowr-problem-${kind}`, dataset: { kind, count: items.length },
    open: items.length <= OPEN_UP_TO || kind !== "ends" },
  h("summary", {}, h("h3", {}, `${title} (${items.length})`)), list);
}

// Fill `container` with the problem groups; onPick(nodeId) selects a node.
export function renderProblems(container, nodes, onPick) {
  const found = findProblems(nodes);
  const groups = [
    group(gettext("Missing rules"), "missing", found.missing,
      (d) => interpolate(gettext("rule %(label)s no longer exists"), { label: d.rule_label }), onPick),
    group(gettext("Branching nodes with a single child"), "single-branch", found.singleBranch,
      () => gettext("a branching rule, but only one way on"), onPick),
    group(gettext("Ends (no children)"), "ends", found.ends, () => gettext("the flow stops here"), onPick),
  ].filter(Boolean);
  const count = found.missing.length + found.singleBranch.length;
  container.replaceChildren(
    h("p", { class: count ? "flowr-problem-summary errornote" : "flowr-problem-summary" },
      count
        ? interpolate(ngettext("%(count)s problem to look at.", "%(count)s problems to look at.", count), { count })
        : gettext("No problems found.")),
    ...groups,
  );
  return found;
}
