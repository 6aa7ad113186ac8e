"""Import scale: a flow document of 10k, 50k, 200k nodes checked and written.

The document is the graph benchmark's shape (a binary creation tree with
back-edges, :func:`benchmarks.graphs.shape`), as JSON text.  Each step of
``flowr_import`` is timed on its own: parsing the text with the API's guarded
parser, the JSON Schema, the rule and structure checks, and the whole import
(checks and writes).  Peak memory is Python's allocations is the process's maximum resident
size after the import (``getrusage``; it includes what the document and the
earlier sizes took).
Every step should grow linearly: the last column is the time per node.
"""

from __future__ import annotations

import json
import resource
from typing import Any

from benchmarks.common import Section, call, ms
from benchmarks.graphs import document, shape
from flowr import export
from flowr.models import Flow, RuleSet

SIZES = (10_000, 50_000, 200_000)
QUICK_SIZES = (10_000, 50_000)


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run(sizes: tuple[int, ...] | list[int]) -> tuple[Section, dict[str, Any]]:
    section = Section(
        "Import scale: flowr_import of a document (checks, then a constant number of queries)",
        ["nodes", "step", "ms", "µs per node", "queries", "max RSS MB"],
    )
    found: dict[str, Any] = {}
    for size in sizes:
        labels, parents, links = shape(size)
        raw = json.dumps(document(f"scale {size}", labels, parents, links)).encode()
        rule_set = RuleSet.factory(f"scale {size}", labels[0])
        parsed, doc = call(export.parse_json, raw)
        schema, _ = call(export.validate_schema, doc)
        checks, _ = call(export.validate_document, doc, None, rule_set)
        whole, flow = call(export.import_flow, doc, None, rule_set)
        assert isinstance(flow, Flow)
        rss = _max_rss_mb()
        for step, measure in (
            ("parse JSON", parsed),
            ("JSON Schema", schema),
            ("schema + checks", checks),
            ("import (checks + writes)", whole),
        ):
            last = step.startswith("import")
            section.add(
                f"{size:,}",
                step,
                ms(measure.wall),
                f"{measure.wall / size * 1e6:.1f}",
                measure.queries,
                f"{rss:.0f}" if last else "",
            )
        found[f"import_{size}_s"] = round(whole.wall, 2)
        found[f"import_{size}_queries"] = whole.queries
        found[f"import_{size}_rss_mb"] = round(rss)
        flow.delete()
    return section, found
