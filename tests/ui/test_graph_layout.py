"""Graphs that read right, in a real Chromium: the demo's lineage graph and the scikit-learn
step graph (a Pipeline with a ColumnTransformer) are laid out by dagre (static/vendor), and no
edge crosses a node box it does not join, checked geometrically from the SVG. Text keeps its
size (the first view is at scale 1); the graph pans and zooms instead of shrinking.
"""
from __future__ import annotations

from .conftest import ARTIFACTS
from .test_models_browser import demo_site, laptop  # noqa: F401  (the demo served, a 1280×800 page)

# For every edge path, every segment against every node box other than the edge's own two
# (shrunk by a pixel: an arrow ending on its target's border is not a crossing).
CROSSINGS = """() => {
  const boxes = [...document.querySelectorAll('svg.graph g.node')].map(g => {
    const [x, y, w, h] = g.getAttribute('data-box').split(',').map(Number);
    return {key: g.getAttribute('data-key'), x0: x + 1, y0: y + 1, x1: x + w - 1, y1: y + h - 1};
  });
  function hits(a, b, r) {  // Liang-Barsky: does segment a-b enter rectangle r?
    let t0 = 0, t1 = 1;
    const dx = b.x - a.x, dy = b.y - a.y;
    for (const [p, q] of [[-dx, a.x - r.x0], [dx, r.x1 - a.x], [-dy, a.y - r.y0], [dy, r.y1 - a.y]]) {
      if (p === 0) { if (q < 0) return false; continue; }
      const t = q / p;
      if (p < 0) { if (t > t1) return false; if (t > t0) t0 = t; }
      else { if (t < t0) return false; if (t < t1) t1 = t; }
    }
    return t0 <= t1;
  }
  const found = [];
  const paths = [...document.querySelectorAll('svg.graph path.edge')];
  for (const path of paths) {
    const nums = path.getAttribute('d').match(/-?[0-9.]+/g).map(Number);
    const pts = [];
    for (let i = 0; i + 1 < nums.length; i += 2) pts.push({x: nums[i], y: nums[i + 1]});
    const own = [path.getAttribute('data-source'), path.getAttribute('data-target')];
    for (let i = 0; i + 1 < pts.length; i++)
      for (const box of boxes)
        if (!own.includes(box.key) && hits(pts[i], pts[i + 1], box))
          found.push(own.join(' -> ') + ' crosses ' + box.key);
  }
  return {edges: paths.length, nodes: boxes.length, crossings: found};
}"""


def _save(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_no_edge_of_the_demo_lineage_crosses_a_box_it_does_not_join(laptop, demo_site):  # noqa: F811
    base, models = demo_site
    # The last hand-written model's evaluation: upstream, its model, test.csv, train.csv and the
    # whole data preparation; downstream nothing. Both ways from the shared test.csv: every evaluation.
    evaluation = next(m for m in models if m["model"] == "v4")["run_id"]
    for name, node in [("lineage-evaluation", f"run:{evaluation}"), ("lineage-test-csv", None)]:
        if node is None:
            laptop.goto(base + f"/lineage?node=run:{evaluation}&direction=up")
            laptop.locator("#lineage-nodes a", has_text="test.csv").first.click()
            laptop.wait_for_url("**/lineage?node=artifact*")
            laptop.goto(laptop.url.replace("direction=up", "direction=both"))
        else:
            laptop.goto(base + f"/lineage?node={node}&direction=both")
        laptop.locator("svg.graph g.node").first.wait_for()
        result = laptop.evaluate(CROSSINGS)
        _save(laptop, f"30-{name}")
        assert result["edges"] >= 3 and result["nodes"] >= 4, result
        assert result["crossings"] == [], result["crossings"]
        # Reading size: the first view is not shrunk, and labels name files, not URIs.
        assert laptop.locator("svg.graph").get_attribute("data-scale") == "1.000"
        labels = laptop.locator("svg.graph .node-label").all_text_contents()
        assert "test.csv@" in " ".join(labels) and not any(t.startswith("file://") for t in labels)


def test_the_step_graph_of_a_column_transformer_pipeline_reads_right(laptop, demo_site):  # noqa: F811
    base, models = demo_site
    pipeline = next(m for m in models if m["model"] == "pipeline")["run_id"]
    laptop.goto(base + f"/runs/{pipeline}")
    laptop.locator("#estimator-graph g.node").first.wait_for()
    result = laptop.evaluate(CROSSINGS)
    _save(laptop, "31-estimator-steps")
    labels = laptop.locator("#estimator-graph .node-label").all_text_contents()
    assert any("scale" in t for t in labels) and any("cat" in t for t in labels)
    assert result["crossings"] == [], result["crossings"]
    # An in-memory input is named by its type on the lineage graph, not by a bare hash.
    laptop.goto(base + f"/lineage?node=run:{pipeline}&direction=up")
    laptop.locator("svg.graph g.node").first.wait_for()
    labels = laptop.locator("svg.graph .node-label").all_text_contents()
    assert any(t.startswith("dataframe@") for t in labels) and any(t.startswith("series@") for t in labels)
    assert laptop.evaluate(CROSSINGS)["crossings"] == []
    laptop.goto(base + f"/runs/{pipeline}")
    laptop.locator("#estimator-graph g.node").first.wait_for()
    # The encoder's edge goes to the model, not through the scaler.
    edges = laptop.locator("#estimator-graph path.edge").evaluate_all(
        "ps => ps.map(p => p.getAttribute('data-source') + ' -> ' + p.getAttribute('data-target'))")
    assert "preprocess__cat -> model" in edges


def test_a_graph_pans_and_zooms_instead_of_shrinking(laptop, demo_site):  # noqa: F811
    base, models = demo_site
    evaluation = next(m for m in models if m["model"] == "v1")["run_id"]
    laptop.goto(base + f"/lineage?node=run:{evaluation}&direction=both")
    graph = laptop.locator("svg.graph")
    graph.locator("g.node").first.wait_for()
    assert graph.get_attribute("data-scale") == "1.000"
    laptop.get_by_role("button", name="Zoom out").click()
    assert float(graph.get_attribute("data-scale")) < 1
    laptop.get_by_role("button", name="Reading size").click()
    assert graph.get_attribute("data-scale") == "1.000"
    before = laptop.locator("svg.graph g.scene").get_attribute("transform")
    box = laptop.locator(".graph-frame").bounding_box()
    laptop.mouse.move(box["x"] + 40, box["y"] + 40)
    laptop.mouse.down()
    laptop.mouse.move(box["x"] + 160, box["y"] + 90, steps=5)
    laptop.mouse.up()
    assert laptop.locator("svg.graph g.scene").get_attribute("transform") != before
    # Clicking a box (not dragging) still re-centres the graph on it.
    laptop.get_by_role("button", name="Show the whole graph").click()
    laptop.locator("svg.graph g.node.artifact").first.click()
    laptop.wait_for_url("**/lineage?node=artifact*")
