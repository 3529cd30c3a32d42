// Measurements of tests/browser/test_layout.py, evaluated in a laid-out page (fonts loaded,
// MathJax done): code boxes too narrow for an 88-character line, display math that does not
// scroll in its own box inside the column, and squeezed table cells. Returns plain data.
(minCellEm) => {
  const art = document.querySelector("article.bd-article");
  const where = (el) => {
    const s = el.closest("section[id]");
    return (s ? "§" + s.id + " " : "") + el.tagName.toLowerCase();
  };
  const text = (el) => el.textContent.replace(/\s+/g, " ").trim().slice(0, 60);
  const out = { code: [], math: [], cells: [] };
  // An 88-character line (the book's print rule) in the font of each code and output box.
  for (const pre of art.querySelectorAll("div.cell div.cell_input pre, div.cell div.cell_output pre")) {
    const cs = getComputedStyle(pre);
    const probe = document.createElement("span");
    probe.textContent = "m".repeat(88);
    probe.style.whiteSpace = "pre";
    pre.appendChild(probe);
    const line = probe.getBoundingClientRect().width;
    probe.remove();
    const inner = pre.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    if (pre.clientWidth && line > inner + 0.5) {
      out.code.push({ where: where(pre), kind: pre.closest(".cell_output") ? "output" : "code", line: Math.round(line), inner: Math.round(inner) });
    }
  }
  // Display math wider than its box scrolls inside that box, which stays in the column.
  const column = art.getBoundingClientRect();
  for (const m of art.querySelectorAll('mjx-container[display="true"]')) {
    const r = m.getBoundingClientRect(), cs = getComputedStyle(m);
    const content = m.querySelector("mjx-math");
    const width = content ? content.getBoundingClientRect().width : m.scrollWidth;
    if (width <= m.clientWidth + 1 && r.right <= column.right + 1) continue;
    const before = m.scrollLeft;
    m.scrollLeft = 40;
    const scrolls = m.scrollLeft > before;
    m.scrollLeft = before;
    if (!scrolls || r.right > column.right + 1 || r.left < column.left - 1) {
      out.math.push({ where: where(m), box: [Math.round(r.left), Math.round(r.right)], column: [Math.round(column.left), Math.round(column.right)],
                      width: Math.round(width), overflow: cs.overflowX, scrolls, tex: text(m.parentElement) });
    }
  }
  // A table cell narrower than minCellEm whose text wraps onto several lines is squeezed.
  for (const cell of art.querySelectorAll("table:not(.genindextable):not(.indextable) :is(th, td)")) {
    const cs = getComputedStyle(cell);
    const width = cell.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    if (width >= minCellEm * parseFloat(cs.fontSize)) continue;
    const range = document.createRange();
    range.selectNodeContents(cell);
    const lines = new Set(Array.from(range.getClientRects()).filter((r) => r.width > 0).map((r) => Math.round(r.bottom / 4)));
    if (lines.size > 1) out.cells.push({ where: where(cell), width: Math.round(width), lines: lines.size, text: text(cell) });
  }
  return out;
}
