// Probes evaluated inside each page by harness.py: window.__bookProbes.<name>(...).
// They only read the page (openAllToggles excepted) and return plain data.
window.__bookProbes = (() => {
  // Text inside these is code, math or machinery, not prose.
  const NOT_PROSE = "script,style,noscript,template,textarea,pre,code,kbd,samp,tt,.highlight,.math,"
    + "mjx-container,.MathJax,math,.headerlink,svg";
  const BLOCK = "p,li,dd,dt,td,th,h1,h2,h3,h4,h5,h6,figcaption,caption,blockquote,.admonition-title,summary,"
    + "div,section,article,nav,header,footer,main,body";
  const squash = (s) => (s || "").replace(/\s+/g, " ").trim();
  const clip = (s, n = 160) => { s = squash(s); return s.length > n ? s.slice(0, n - 1) + "…" : s; };

  function describe(el) {
    if (!el || !el.tagName) return String(el);
    let d = el.tagName.toLowerCase();
    if (el.id) d += "#" + el.id;
    const cls = Array.from(el.classList || []).filter((c) => !c.startsWith("mjx-")).slice(0, 3);
    if (cls.length) d += "." + cls.join(".");
    if (el.tagName === "MJX-CONTAINER") d += el.getAttribute("display") === "true" ? " (display math)" : " (inline math)";
    return d;
  }
  // Where an element is: its section (by id) and its own description.
  function where(el) {
    const sec = el.closest && el.closest("section[id]");
    return (sec ? "§" + sec.id + " " : "") + describe(el);
  }
  function rect(el) {
    const r = el.getBoundingClientRect();
    return { left: Math.round(r.left), right: Math.round(r.right), top: Math.round(r.top),
             bottom: Math.round(r.bottom), width: Math.round(r.width), height: Math.round(r.height) };
  }
  // Shown: has a box, and no ancestor hides it. With fading=true an element that is fading in
  // (opacity still 0 at the start of a transition) counts as shown.
  function isShown(el, fading = false) {
    if (!el) return false;
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return false;
    for (let a = el; a && a.nodeType === 1; a = a.parentElement) {
      const cs = getComputedStyle(a);
      if (cs.display === "none" || cs.visibility === "hidden") return false;
      if (cs.opacity === "0" && !(fading && cs.transitionProperty.match(/opacity|all/))) return false;
    }
    return true;
  }
  function article() {
    return document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  }
  function texNodes(root, accept) {
    const out = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode: (n) => (n.nodeValue.trim() && accept(n) ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT),
    });
    while (walker.nextNode()) out.push(walker.currentNode);
    return out;
  }
  const isProse = (n) => n.parentElement && !n.parentElement.closest(NOT_PROSE);

  // 1. raw markup in prose; 7. build paths anywhere.
  function rawMarkup(patterns) {
    const hits = [];
    const res = Object.entries(patterns).map(([name, src]) => [name, new RegExp(src, "gu")]);
    for (const node of texNodes(document.body, isProse)) {
      const text = node.nodeValue;
      for (const [name, re] of res) {
        re.lastIndex = 0;
        let m;
        while ((m = re.exec(text))) {
          const block = node.parentElement.closest(BLOCK);
          hits.push({ kind: name, match: m[0], where: where(node.parentElement),
                      text: clip(text.slice(Math.max(0, m.index - 60), m.index + 60)),
                      context: clip(block ? block.textContent : text, 200) });
          if (m[0] === "") re.lastIndex++;
        }
      }
    }
    return hits;
  }
  function buildPaths(src) {
    const re = new RegExp(src, "u");
    const hits = [];
    for (const node of texNodes(document.documentElement, (n) => !n.parentElement.closest("script,style"))) {
      const m = re.exec(node.nodeValue);
      if (m) hits.push({ match: m[0], where: where(node.parentElement), text: clip(node.nodeValue.slice(Math.max(0, m.index - 40), m.index + 80)) });
    }
    for (const el of document.querySelectorAll("[href],[src]")) {
      for (const attr of ["href", "src"]) {
        const v = el.getAttribute(attr);
        const m = v && re.exec(v);
        if (m) hits.push({ match: m[0], where: where(el) + "[" + attr + "]", text: clip(v) });
      }
    }
    return hits;
  }

  // 2. math: unrendered .math, MathJax errors, raw TeX that MathJax printed as text.
  function math() {
    const out = { count: document.querySelectorAll(".math").length, mathjax: !!(window.MathJax && window.MathJax.startup),
                  unrendered: [], errors: [], literal_tex: [] };
    const texOf = new Map();
    try {
      for (const item of MathJax.startup.document.math) texOf.set(item.typesetRoot, item.math);
    } catch (e) { /* no MathJax */ }
    for (const el of document.querySelectorAll(".math")) {
      if (!el.querySelector("mjx-container") && !el.closest("mjx-container"))
        out.unrendered.push({ where: where(el), tex: clip(el.textContent, 120) });
    }
    for (const c of document.querySelectorAll("mjx-container")) {
      const tex = clip(texOf.get(c) || "", 120);
      if (c.querySelector("mjx-merror")) out.errors.push({ where: where(c.parentElement), tex,
        message: clip((c.querySelector("mjx-merror").getAttribute("data-mjx-error") || c.querySelector("mjx-merror").textContent), 100) });
      for (const t of c.querySelectorAll("mjx-assistive-mml mtext, mjx-assistive-mml ms")) {
        if (t.closest("merror")) continue;  // reported above as a MathJax error
        if (/\\[A-Za-z_{}$#%&]|\$/.test(t.textContent))
          out.literal_tex.push({ where: where(c.parentElement), shown: clip(t.textContent, 60), tex });
      }
    }
    return out;
  }

  // 3. link text that repeats the words around it ("exercise Exercise 5").
  const STOP = new Set("a an the of in on at to for and or by with from as is are be this that its it we you".split(" "));
  const WORD = /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu;
  // Clause boundaries, the Chinese edition's full-width punctuation included.
  const BOUNDARY = /[.;:!?()\[\]{}"“”,—–（）【】《》「」『』，。；：！？、]/;
  const words = (s) => (s.match(WORD) || []).map((w) => w.toLowerCase());
  function contains(hay, needle) {
    outer: for (let i = 0; i + needle.length <= hay.length; i++) {
      for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
      return true;
    }
    return false;
  }
  function linkRepeats() {
    const hits = [];
    for (const a of article().querySelectorAll("a[href]")) {
      // Reference lists put the label (which names the author) before the entry's authors.
      if (a.closest(".headerlink, pre, .sig, nav, .toctree-wrapper, .chapter-references, .citation")) continue;
      const text = squash(a.textContent);
      const lw = words(text);
      if (!lw.length) continue;
      const block = a.parentElement.closest("p,li,dd,dt,td,th,h1,h2,h3,h4,h5,h6,figcaption,caption,.admonition-title,summary") || a.parentElement;
      const r1 = document.createRange(); r1.selectNodeContents(block); r1.setEndBefore(a);
      const r2 = document.createRange(); r2.selectNodeContents(block); r2.setStartAfter(a);
      const before = r1.toString(), after = r2.toString();
      const tail = words(before.split(BOUNDARY).pop());  // same clause, just before the link
      const head = words(after.split(BOUNDARY)[0]);      // same clause, just after it
      let found = null;
      // (a) the words before the link repeat its first words
      if (!BOUNDARY.test(text[0])) {
        for (let k = Math.min(tail.length, lw.length); k >= 1 && !found; k--)
          if (tail.slice(-k).join(" ") === lw.slice(0, k).join(" ")) found = { side: "before", repeated: tail.slice(-k).join(" ") };
      }
      // (b) the words after the link repeat its last words
      if (!found && !BOUNDARY.test(text[text.length - 1])) {
        for (let k = Math.min(head.length, lw.length); k >= 1 && !found; k--)
          if (head.slice(0, k).join(" ") === lw.slice(-k).join(" ")) found = { side: "after", repeated: head.slice(0, k).join(" ") };
      }
      // (c) two or more words just before/after the link occur inside it (one of them not a stop word)
      for (const [side, seq] of [["before", tail], ["after", head]]) {
        for (let n = Math.min(seq.length, lw.length); n >= 2 && !found; n--) {
          const part = side === "before" ? seq.slice(-n) : seq.slice(0, n);
          if (part.some((w) => !STOP.has(w)) && contains(lw, part)) found = { side, repeated: part.join(" ") };
        }
      }
      if (found) {
        const ctx = squash(before).slice(-60) + " ‹" + text + "› " + squash(after).slice(0, 60);
        hits.push({ where: where(block), link: text, href: a.getAttribute("href"), ...found, context: ctx });
      }
    }
    return hits;
  }

  // 3/11. doubled words: any in a title ("Exercise Exercise 5" in a solution header), and the
  // words of automatic titles anywhere in the text.
  function doubled() {
    const hits = [];
    const any = /(?<![\p{L}\p{N}])([\p{L}]{2,}|\d+)\s+\1(?![\p{L}\p{N}])/iu;
    const auto = /(?<![\p{L}\p{N}])(exercise|solution|figure|fig\.|section|chapter|table|equation|eq\.|appendix|listing|theorem|proof)\s+\1(?![\p{L}\p{N}])/iu;
    const titles = "h1,h2,h3,h4,h5,h6,.admonition-title,figcaption,caption,summary,.prev-next-title,dt";
    for (const el of document.querySelectorAll(titles)) {
      const t = squash(el.textContent.replace(/[#¶]$/, ""));
      const m = any.exec(t);
      if (m) hits.push({ where: where(el), match: m[0], text: clip(t, 120) });
    }
    for (const el of article().querySelectorAll("p,li,td,th,dd")) {
      if (el.closest(NOT_PROSE) || el.closest(titles)) continue;
      const t = squash(el.textContent);
      const m = auto.exec(t);
      if (m) hits.push({ where: where(el), match: m[0], text: clip(t.slice(Math.max(0, m.index - 50), m.index + 70), 140) });
    }
    return hits;
  }

  // 8. GPU cells
  function gpuCells() {
    return Array.from(document.querySelectorAll("div.cell.tag_gpu")).map((cell, i) => {
      const outs = Array.from(cell.querySelectorAll(".cell_output"));
      const hasOutput = outs.some((o) => squash(o.textContent) !== "" || o.querySelector("img,svg,canvas,iframe"));
      const notes = Array.from(cell.querySelectorAll(".gpu-note"));
      const next = cell.nextElementSibling;
      if (next) {
        if (next.classList.contains("gpu-note")) notes.push(next);
        else notes.push(...next.querySelectorAll(":scope > .gpu-note"));
      }
      const code = cell.querySelector(".cell_input pre");
      return { index: i, where: where(cell), code: clip(code ? code.textContent : "", 80), has_output: hasOutput,
               notes: notes.map((n) => ({ text: squash(n.innerText || n.textContent), visible: isShown(n) })) };
    });
  }

  // 9. images
  function images() {
    return Array.from(article().querySelectorAll("img")).map((img) => {
      const fig = img.closest("figure");
      const cap = fig ? fig.querySelector("figcaption") : null;
      const r = img.getBoundingClientRect();
      return { src: img.getAttribute("src"), alt: img.getAttribute("alt"), loaded: img.complete && img.naturalWidth > 0,
               natural_width: img.naturalWidth, shown_width: Math.round(r.width * 10) / 10, where: where(img),
               in_figure: !!fig, caption: cap ? squash(cap.innerText || cap.textContent) : null,
               visible: isShown(img) };
    });
  }

  // 4. horizontal overflow
  // Walk the article's element tree. An element that sticks out of the column, or cuts off its
  // content, is reported and its subtree skipped; a scroll box is checked itself and its subtree
  // skipped (what is inside scrolls with it); so are code, math and images, which are leaves here.
  const OVERFLOW_SKIP = "mjx-assistive-mml, .tooltip, .visually-hidden, .sr-only, script, style, dialog, template";
  const OVERFLOW_LEAF = "pre, code, kbd, mjx-container, svg, img, math, canvas, iframe, video";
  function overflow() {
    const art = article();
    const aR = art.getBoundingClientRect();
    const docW = document.documentElement.scrollWidth;
    const out = { inner_width: innerWidth, doc_scroll_width: docW, article: rect(art), sticking_out: [], clipped: [], beyond_viewport: [] };
    const owners = new Map();
    const walk = (parent) => {
      for (const el of parent.children) {
        if (el.matches(OVERFLOW_SKIP)) continue;
        const cs = getComputedStyle(el);
        if (cs.display === "none") continue;
        const r = el.getBoundingClientRect();
        const counts = cs.visibility !== "hidden" && cs.position !== "fixed" && (r.width >= 1 || r.height >= 1);
        // Content cut off by a block box that hides its overflow (no scrollbar). Inline boxes
        // (inline math) are left out: their scrollWidth counts a few px of glyph overhang.
        if (counts && /^(block|flex|grid|table|flow-root|list-item)$/.test(cs.display) && !el.closest("span.math")
            && (cs.overflowX === "hidden" || cs.overflowX === "clip") && el.scrollWidth > el.clientWidth + 4) {
          out.clipped.push({ el: where(el), content_width: el.scrollWidth, box_width: el.clientWidth, text: clip(el.textContent, 80) });
          continue;
        }
        if (counts && (r.right > aR.right + 1 || r.left < aR.left - 1)) {
          // An inline piece (a word of a signature, inline code or math) is reported through the
          // line box it belongs to: one entry per paragraph, heading or signature.
          let owner = el;
          if (cs.display.startsWith("inline")) {
            for (let a = el.parentElement; a && a !== art; a = a.parentElement) {
              if (!getComputedStyle(a).display.startsWith("inline")) { owner = a; break; }
            }
          }
          const prev = owners.get(owner);
          if (prev) { prev.right = Math.max(prev.right, Math.round(r.right)); prev.left = Math.min(prev.left, Math.round(r.left)); continue; }
          const entry = { el: where(owner) + (owner === el ? "" : " (its " + describe(el) + ")"), left: Math.round(r.left), right: Math.round(r.right),
                          column: [Math.round(aR.left), Math.round(aR.right)], text: clip(owner.textContent, 80) };
          owners.set(owner, entry);
          out.sticking_out.push(entry);
          continue;
        }
        if (cs.overflowX === "auto" || cs.overflowX === "scroll" || el.matches(OVERFLOW_LEAF)) continue;
        walk(el);
      }
    };
    walk(art);
    if (docW > innerWidth) {  // what makes the page scroll sideways
      const beyond = (parent) => {
        for (const el of parent.children) {
          if (el.matches(OVERFLOW_SKIP)) continue;
          const cs = getComputedStyle(el);
          if (cs.display === "none" || cs.position === "fixed") continue;
          const r = el.getBoundingClientRect();
          if (cs.visibility !== "hidden" && r.width > 0 && r.right > innerWidth + 1 && (el.matches(OVERFLOW_LEAF) || !el.children.length
              || !Array.from(el.children).some((c) => c.getBoundingClientRect().right > innerWidth + 1))) {
            out.beyond_viewport.push({ el: where(el), right: Math.round(r.right), text: clip(el.textContent, 80) });
            continue;
          }
          if (cs.overflowX === "auto" || cs.overflowX === "scroll" || cs.overflowX === "hidden" || el.matches(OVERFLOW_LEAF)) continue;
          beyond(el);
        }
      };
      beyond(document.body);
    }
    return out;
  }

  // 12. site furniture
  function furniture() {
    const footer = Array.from(document.querySelectorAll("footer, .bd-footer, .bd-footer-content, .bd-footer-article"))
      .filter((f) => !f.closest(".prev-next-footer") && !f.classList.contains("prev-next-footer"));
    const icons = Array.from(document.querySelectorAll("link[rel~='icon'], link[rel='shortcut icon']")).map((l) => l.href);
    const repoLike = /github\.com|gitlab\.com|bitbucket\.org|codeberg\.org|colab\.research\.google\.com|mybinder\.org|binder|jupyterhub|deepnote|kaggle\.com/i;
    const btnClass = /btn-(source-)?repository|btn-issues|btn-edit|btn-launch|launch-buttons|binder|colab|jupyterhub|thebe|edit-this-page/i;
    const buttons = [];
    for (const el of document.querySelectorAll("a, button, div.dropdown")) {
      if (el.closest("article.bd-article")) continue;  // links in the prose are content, not buttons
      const href = el.getAttribute("href") || "";
      if (repoLike.test(href) || btnClass.test(el.className || ""))
        buttons.push({ el: describe(el), href, label: clip(el.getAttribute("title") || el.getAttribute("aria-label") || el.textContent, 40) });
    }
    const sidebar = document.querySelector("#pst-primary-sidebar, .bd-sidebar-primary");
    const sideLinks = sidebar ? Array.from(sidebar.querySelectorAll("a[href]")).map((a) => ({ href: a.href, text: squash(a.textContent) })) : [];
    const headings = Array.from(article().querySelectorAll("h1,h2,h3")).map((h) => ({ tag: h.tagName, text: squash(h.textContent.replace(/#$/, "")), id: (h.closest("section[id]") || {}).id || "" }));
    // the header's controls (buttons, edition switcher): where each sits against the header bar
    const bar = document.querySelector(".bd-header-article");
    const barBox = bar ? bar.getBoundingClientRect() : null;
    const controls = bar ? Array.from(bar.querySelectorAll(".header-article-item > *"))
      .filter((el) => el.getClientRects().length)
      .map((el) => { const r = el.getBoundingClientRect(); return { el: describe(el), top: r.top, bottom: r.bottom }; }) : [];
    return { footer: footer.map((f) => squash(f.innerText || f.textContent)).join(" | "), icons, buttons, sidebar_links: sideLinks,
             headings, lang: document.documentElement.lang, title: document.title,
             header: barBox ? { top: barBox.top, bottom: barBox.bottom, controls } : null };
  }

  // 13. the language of the prose: letters of the article's prose (code, outputs and math
  // excluded, as in NOT_PROSE), counted by script, per block, for the "prose is Chinese" check.
  const CJK = /[\u3400-\u9fff\uf900-\ufaff]/gu;
  const LATIN = /[A-Za-z]/g;
  function prose() {
    const art = article();
    const skip = NOT_PROSE + ",.cell_output,.output,.bibliography,.citation,.chapter-references,dl.py,.sig";
    let cjk = 0, latin = 0;
    const blocks = new Map();
    for (const n of texNodes(art, (t) => t.parentElement && !t.parentElement.closest(skip))) {
      const c = (n.nodeValue.match(CJK) || []).length, l = (n.nodeValue.match(LATIN) || []).length;
      cjk += c; latin += l;
      const block = n.parentElement.closest("p,li,dt,dd,td,th,h1,h2,h3,h4,figcaption,.admonition-title") || n.parentElement;
      const b = blocks.get(block) || { cjk: 0, latin: 0 };
      b.cjk += c; b.latin += l; blocks.set(block, b);
    }
    // Blocks of real English prose (many letters, no Chinese): what an untranslated message looks like.
    const english = [];
    for (const [el, b] of blocks) if (b.cjk === 0 && b.latin >= 40) english.push({ where: where(el), text: clip(el.textContent, 120) });
    return { cjk, latin, english, lang: document.documentElement.lang };
  }

  // 14. the language switcher: the link to this page in the other edition.
  function switcher() {
    return Array.from(document.querySelectorAll("a.language-switcher")).map((a) => ({
      href: a.href, hreflang: a.getAttribute("hreflang"), text: squash(a.textContent), shown: isShown(a) }));
  }

  function collect(rawPatterns, pathPattern) {
    return { raw: rawMarkup(rawPatterns), paths: buildPaths(pathPattern), math: math(), links: linkRepeats(), doubled: doubled(),
             gpu: gpuCells(), images: images(), furniture: furniture(), prose: prose(), switcher: switcher() };
  }

  // 11. solutions
  function solutionState(i) {
    const s = document.querySelectorAll("div.solution")[i];
    const title = s.querySelector(".admonition-title, summary");
    const body = Array.from(s.children).filter((c) => c !== title && !c.classList.contains("admonition-title") && c.tagName !== "SUMMARY" && !c.matches("button"));
    const shown = (e) => isShown(e, true);
    const open = s.tagName === "DETAILS" ? s.open : body.length > 0 && body.some(shown) && !s.classList.contains("toggle-hidden");
    const details = s.closest("details");
    // The hint sphinx-togglebutton shows beside the title (on wide screens), from its button.
    const button = s.querySelector("button.toggle-button");
    const hint = button ? getComputedStyle(button, "::before").content.replace(/^"|"$/g, "") : null;
    return { id: s.id, title: clip(title ? title.textContent : "", 80), open: details ? details.open && body.some(shown) : open, hint };
  }
  // Scroll solution i's title to mid-screen and say where a reader clicks it: the middle of the
  // first line of its link text (the blue words), or of the title if it has no link.
  function solutionAim(i) {
    const state = solutionState(i);
    const s = document.querySelectorAll("div.solution")[i];
    const title = s.querySelector(".admonition-title, summary");
    const link = title && title.querySelector("a");
    const target = link && isShown(link) ? link : title;
    if (!target) return { ...state, href: location.href, x: null, y: null, on: "nothing" };
    target.scrollIntoView({ block: "center", inline: "nearest" });
    const rects = Array.from(target.getClientRects()).filter((r) => r.width > 2 && r.height > 2);
    const r = rects[0] || target.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    const hit = document.elementFromPoint(x, y);
    return { ...state, href: location.href, x, y, on: target === link ? "its link text" : "the title", hit: describe(hit) };
  }
  function solutionAfter(i) {
    return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() =>
      resolve({ ...solutionState(i), href: location.href }))));
  }
  function openAllToggles() {
    let n = 0;
    for (const b of document.querySelectorAll(".toggle-hidden > .admonition-title > button.toggle-button, button.toggle-button.toggle-button-hidden")) { b.click(); n++; }
    for (const d of document.querySelectorAll("details:not([open])")) { d.open = true; n++; }
    return n;
  }

  // 5. navigation
  function drawerInfo(side) {
    const sidebar = document.getElementById(side === "primary" ? "pst-primary-sidebar" : "pst-secondary-sidebar");
    const dialog = document.getElementById(`pst-${side}-sidebar-modal`);
    const hasContent = !!((sidebar && sidebar.querySelector("a[href]")) || (dialog && dialog.querySelector("a[href]")));
    const buttons = Array.from(document.querySelectorAll(`.${side}-toggle`)).map((b) => describe(b) + (isShown(b) ? " (visible)" : " (hidden)"));
    return { has_content: hasContent, buttons };
  }
  function dialogContent(id) {
    const d = document.getElementById(id);
    const links = new Set(), anchors = [];
    for (const a of d.querySelectorAll("a[href]")) {
      if (!isShown(a)) continue;
      const u = new URL(a.href, location.href);
      if (u.origin === location.origin) {
        if (u.pathname === location.pathname && u.hash) anchors.push(u.hash);
        else links.add(u.pathname.replace(/^\//, ""));
      }
    }
    const r = d.getBoundingClientRect();
    return { links: Array.from(links), anchors, rect: rect(d), in_view: r.width > 50 && r.height > 50 && r.left < innerWidth && r.right > 0 };
  }
  function sidebarState() {
    const s = document.getElementById("pst-primary-sidebar") || document.querySelector(".bd-sidebar-primary");
    const a = article();
    const dialog = document.getElementById("pst-primary-sidebar-modal");
    if (!s) return { hidden: true, sidebar_width: 0, article_width: Math.round(a.getBoundingClientRect().width), dialog_open: !!(dialog && dialog.open), missing: true };
    const r = s.getBoundingClientRect();
    const hidden = !isShown(s) || r.right <= 1 || r.left >= innerWidth - 1;
    return { hidden, sidebar_width: Math.round(r.width), article_width: Math.round(a.getBoundingClientRect().width), dialog_open: !!(dialog && dialog.open) };
  }

  function overflowWithAllOpen() {
    const style = document.createElement("style");
    style.textContent = "*, *::before, *::after { transition: none !important; animation: none !important; }";
    document.head.appendChild(style);
    openAllToggles();
    document.body.getBoundingClientRect();  // lay out now
    try { return overflow(); } finally { style.remove(); }
  }
  function closeDialogs() {
    for (const d of document.querySelectorAll("dialog[open]")) d.close();
  }

  return { collect, overflow, overflowWithAllOpen, closeDialogs, solutionState, solutionAim, solutionAfter, openAllToggles, drawerInfo, dialogContent, sidebarState, describe, rect: rect };
})();
