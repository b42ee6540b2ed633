"""The model picture as one self-contained HTML page: the SVG inline, blocks that fold.

Clicking a block's title folds it into one box (its outputs and parameter count) or unfolds
it; "fold all" / "unfold all" do every block. Folding changes heights only, so the page keeps
the layout's ranks, order and x and re-stacks the ranks (`reflow`, the same formula as
`nndsl.plot.layout.place_ranks` and `edge_points`). Nothing is fetched: no CDN, no fonts.
With `#selftest` in the address, the page folds and unfolds everything once and writes into
`<body data-selftest>` whether it came back to the drawing Python made (tests/plot).
"""

from __future__ import annotations

import json
from html import escape

from nndsl.plot.model import ModelPicture
from nndsl.plot.svg import model_svg, reflow_data

PAGE_STYLE = """
body{margin:0;font:14px system-ui,-apple-system,"Segoe UI",sans-serif;color:#111827;background:#fff}
header{position:sticky;top:0;background:#f3f4f6;border-bottom:1px solid #d1d5db;padding:8px 16px;
display:flex;gap:12px;align-items:center;z-index:1}
header h1{font-size:16px;margin:0 12px 0 0}
button{font:inherit;padding:2px 10px;border:1px solid #9ca3af;border-radius:4px;background:#fff;
cursor:pointer}
main{padding:8px}
.nnplot .ctitle{cursor:pointer}
.nnplot .cluster.is-folded>.folded{cursor:pointer}
"""

# `reflow` mirrors nndsl.plot.layout (place_ranks, edge_points, svg_path) and
# nndsl.plot.svg (_endpoint): keep them in step (tests/plot checks they agree).
SCRIPT = r"""
(function(){
const D = JSON.parse(document.getElementById('nnplot-data').textContent);
const L = D.levels, folded = new Set();
const svg = document.querySelector('svg.nnplot');
const el = id => document.getElementById(id);
function f(v){ return v.toFixed(1); }
function path(pts){
  let [x0, y0] = pts[0]; const out = ['M' + f(x0) + ',' + f(y0)];
  for (const [x1, y1] of pts.slice(1)) {
    if (Math.abs(x1 - x0) < 0.05) out.push('L' + f(x1) + ',' + f(y1));
    else { const m = (y0 + y1) / 2;
      out.push('C' + f(x0) + ',' + f(m) + ' ' + f(x1) + ',' + f(m) + ' ' + f(x1) + ',' + f(y1)); }
    x0 = x1; y0 = y1;
  }
  return out.join(' ');
}
function size(id){
  if (folded.has(id)) return L[id].folded;
  const lv = L[id]; reflow(id); return [lv.w, lv.h];
}
function reflow(id){
  const lv = L[id], sizes = {}, box = {};
  for (const it of lv.items) sizes[it.id] = it.k === 'c' ? size(it.id) : [it.w, it.h];
  const rh = new Array(lv.ranks).fill(0);
  for (const it of lv.items) rh[it.r] = Math.max(rh[it.r], sizes[it.id][1]);
  const tops = []; let y = 0;
  for (const h of rh) { tops.push(y); y += h + D.gap; }
  const total = Math.max(0, y - D.gap);
  for (const it of lv.items) {
    const [w, h] = sizes[it.id], top = tops[it.r] + (rh[it.r] - h) / 2;
    box[it.id] = {x: it.x, top: top, w: w, h: h, k: it.k};
    if (it.k !== 'p')
      el(it.id).setAttribute('transform', 'translate(' + f(it.x - w / 2) + ',' + f(top) + ')');
  }
  lv.h = id === 'model' ? total : D.header + total + D.padBottom;
  lv.total = total;
  if (id !== 'model') el(id).querySelector(':scope>rect.frame').setAttribute('height', f(lv.h));
  const group = id === 'model' ? el('model') : el(id).querySelector(':scope>g.content');
  const paths = group.querySelectorAll(':scope>path.edge');
  lv.edges.forEach((e, i) => {
    const a = end(lv, box, e.s, e.sp, true, total), b = end(lv, box, e.t, e.tp, false, total);
    const pts = [a];
    for (const [x, r] of e.p) { pts.push([x, tops[r]]); pts.push([x, tops[r] + rh[r]]); }
    pts.push(b);
    paths[i].setAttribute('d', path(pts));
  });
}
function end(lv, box, id, port, source, total){
  const b = box[id];
  if (b.k === 'p') return [b.x, source ? -D.header : total + D.padBottom];
  let x = b.x;
  if (port !== null && b.k === 'c')
    x = b.x - b.w / 2 + (folded.has(id) ? b.w / 2 : L[id].ports[port]);
  return [x, source ? b.top + b.h : b.top];
}
function refresh(){
  reflow('model');
  const w = parseFloat(svg.getAttribute('width'));
  const h = L.model.total + 2 * D.margin + D.title;
  svg.setAttribute('height', f(h)); svg.setAttribute('viewBox', '0 0 ' + w + ' ' + f(h));
  svg.querySelector(':scope>rect').setAttribute('height', f(h));
}
function setFolded(id, on){
  const g = el(id);
  if (on) folded.add(id); else folded.delete(id);
  g.classList.toggle('is-folded', on);
  for (const part of g.querySelectorAll(':scope>rect.frame,:scope>text.ctitle,:scope>g.content'))
    part.style.display = on ? 'none' : '';
  g.querySelector(':scope>g.folded').style.display = on ? '' : 'none';
}
const clusters = Object.keys(L).filter(id => id !== 'model');
for (const id of clusters) {
  el(id).querySelector(':scope>text.ctitle').addEventListener('click', ev => {
    ev.stopPropagation(); setFolded(id, true); refresh(); });
  el(id).querySelector(':scope>g.folded').addEventListener('click', ev => {
    ev.stopPropagation(); setFolded(id, false); refresh(); });
}
function all(on){ clusters.forEach(id => setFolded(id, on)); refresh(); }
el('fold-all').addEventListener('click', () => all(true));
el('unfold-all').addEventListener('click', () => all(false));
if (location.hash === '#selftest') {
  const attrs = (sel, name) => Array.from(svg.querySelectorAll(sel), e => e.getAttribute(name));
  const before = attrs('path.edge', 'd'), boxes = attrs('g.node,g.cluster', 'transform');
  all(true);
  const foldedHeight = parseFloat(svg.getAttribute('height'));
  all(false);
  const nums = s => (s.match(/-?\d+(\.\d+)?/g) || []).map(Number);
  const same = (a, b) => { const x = nums(a), y = nums(b);
    return x.length === y.length && x.every((v, i) => Math.abs(v - y[i]) < 0.11); };
  const after = attrs('path.edge', 'd'), boxesAfter = attrs('g.node,g.cluster', 'transform');
  const ok = before.every((d, i) => same(d, after[i]))
    && boxes.every((t, i) => same(t, boxesAfter[i]));
  const r = svg.getBoundingClientRect();
  document.body.dataset.selftest = JSON.stringify({
    same: ok, edges: before.length, boxes: svg.querySelectorAll('g.node').length,
    foldedHeight: foldedHeight, height: parseFloat(svg.getAttribute('height')),
    rendered: r.width > 0 && r.height > 0});
}
})();
"""


def model_html(pic: ModelPicture) -> str:
    data = json.dumps(reflow_data(pic), separators=(",", ":")).replace("</", "<\\/")
    total = pic.trainable + pic.non_trainable
    blocks = len(pic.root.clusters())
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{escape(pic.model)}: model graph</title>",
            f"<style>{PAGE_STYLE}</style></head><body>",
            f"<header><h1>{escape(pic.model)}</h1>"
            f"<span>{pic.boxes} boxes, {blocks} blocks, {total:,} params</span>"
            '<button id="fold-all">fold all blocks</button>'
            '<button id="unfold-all">unfold all</button>'
            "<span>click a block's title to fold it, a folded block to unfold it</span></header>",
            "<main>",
            model_svg(pic, interactive=True),
            "</main>",
            f'<script type="application/json" id="nnplot-data">{data}</script>',
            f"<script>{SCRIPT}</script>",
            "</body></html>",
        ]
    )
