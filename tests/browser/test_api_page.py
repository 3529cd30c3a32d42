"""The API reference (book/api.html) documents every public celib object the package itself
declares: an anchored entry with a rendered signature, doctest examples as code blocks with
straight quotes, entries in objects.inv and the general index."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from functools import cache

from bs4 import BeautifulSoup
from checks import check
from harness import ROOT, SITE

CURLY = re.compile("[“”‘’„‟′″]")


@cache
def public_api() -> tuple[list[str], list[tuple[str, object]]]:
    """(modules, [(qualified name, object)]): each public module's ``__all__``, or else the
    functions and classes it defines itself."""
    import celib

    modules, objects = [], []
    for info in sorted(pkgutil.iter_modules(celib.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"celib.{info.name}")
        modules.append(module.__name__)
        names = getattr(module, "__all__", None)
        if names is None:
            names = [
                n
                for n, o in vars(module).items()
                if not n.startswith("_")
                and (inspect.isfunction(o) or inspect.isclass(o))
                and o.__module__ == module.__name__
            ]
        objects += [(f"{module.__name__}.{name}", getattr(module, name)) for name in names]
    return modules, objects


@cache
def soup(path: str) -> BeautifulSoup:
    return BeautifulSoup((SITE / path).read_text(encoding="utf-8"), "html.parser")


def api_path(edition) -> str:
    return f"{edition.prefix}book/api.html"


def entry(edition, name):
    """The ``dt`` with id ``name`` inside a ``dl.py``, or None."""
    dt = soup(api_path(edition)).find(id=name)
    if dt is None or dt.name != "dt":
        return None
    dl = dt.find_parent("dl")
    return dt if dl is not None and "py" in (dl.get("class") or []) else None


def doctest_sources(obj) -> list[str]:
    """The doctest lines of a function's or class's own docstring. A constant has none: its
    ``__doc__`` is its type's (``int``'s examples), and its documentation is a ``#:`` comment."""
    if not (inspect.isroutine(obj) or inspect.isclass(obj)):
        return []
    doc = obj.__doc__ or ""
    return [line.strip() for line in doc.splitlines() if line.strip().startswith(">>> ")]


def test_package_has_public_objects():
    modules, objects = public_api()
    assert len(modules) >= 5 and len(objects) >= 20, (modules, objects)


def test_api_entry_for_every_public_object(edition):
    modules, objects = public_api()
    page = soup(api_path(edition))
    missing = [f"module {m}: no anchor id='module-{m}'" for m in modules if page.find(id=f"module-{m}") is None]
    missing += [f"{name}: no <dt id='{name}'> in a dl.py" for name, _ in objects if entry(edition, name) is None]
    check(api_path(edition), f"public celib objects without an API entry (of {len(objects)})", missing, limit=10)


def test_api_signatures_are_rendered(edition):
    """Each entry's signature shows the object's name and, for a callable, its parameters."""
    problems = []
    for name, obj in public_api()[1]:
        dt = entry(edition, name)
        if dt is None:
            problems.append(f"{name}: no entry")
            continue
        shown = dt.select_one(".sig-name")
        if shown is None or shown.get_text(strip=True) != name.rsplit(".", 1)[1]:
            problems.append(f"{name}: no .sig-name with its name in “{dt.get_text(' ', strip=True)[:80]}”")
            continue
        if callable(obj):
            try:
                params = [p for p in inspect.signature(obj).parameters if p not in ("self", "cls", "ctx")]
            except (TypeError, ValueError):
                params = []
            rendered = {
                em.select_one(".n").get_text(strip=True) if em.select_one(".n") else em.get_text(strip=True)
                for em in dt.select(".sig-param")
            }
            rendered = {r.lstrip("*").split(":")[0].split("=")[0].strip() for r in rendered}
            lost = [p for p in params if p not in rendered]
            if lost:
                problems.append(
                    f"{name}: parameters {lost} not in the rendered signature “{dt.get_text(' ', strip=True)[:80]}”"
                )
    check(api_path(edition), "API signatures not rendered", problems)


def test_api_page_has_no_directive_text(edition, visitor):
    """No `.. py:function::`, `:param`, `:math:`, `.. rubric::` as text on the rendered API page."""
    visit = visitor.get(edition, api_path(edition), "desktop")
    hits = [h for h in visit.probe.get("raw", []) if h["kind"].startswith(("reST", "MyST"))]
    check(visit.where, "directive or role text on the API page", [f"{h['match']!r}: “{h['text']}”" for h in hits])


def test_api_examples_are_code_blocks(edition):
    """Every doctest line of a docstring appears verbatim (same quotes, with its `>>>`) in a
    <pre> of that object's entry."""
    problems = []
    for name, obj in public_api()[1]:
        lines = doctest_sources(obj)
        if not lines:
            continue
        dt = entry(edition, name)
        if dt is None:
            problems.append(f"{name}: no entry to hold its {len(lines)} examples")
            continue
        dd = dt.find_next_sibling("dd")
        pres = " \n".join(re.sub(r"[ \t]+", " ", p.get_text()) for p in (dd.find_all("pre") if dd else []))
        absent = [line for line in lines if re.sub(r"[ \t]+", " ", line) not in pres]
        if absent:
            problems.append(
                f"{name}: {len(absent)} of {len(lines)} doctest lines not in a code block, e.g. {absent[0]!r}"
            )
    check(api_path(edition), "doctest examples not rendered as code blocks", problems)


def test_api_code_has_straight_quotes(edition):
    page = soup(api_path(edition))
    bad = []
    for el in page.select("article pre, article code"):
        text = el.get_text()
        m = CURLY.search(text)
        if m:
            bad.append(f"<{el.name}>: {text.strip()[:90]!r}")
    # examples flattened into prose carry their smart quotes there
    for p in page.select("article p, article li"):
        text = p.get_text()
        if ">>>" in text or re.search(r"\w\(\s*\[?[“‘]", text):
            if CURLY.search(text):
                bad.append(f"<p> (an example rendered as prose): {text.strip()[:90]!r}")
    check(api_path(edition), "curly quotes in code", bad)


def test_api_has_no_inherited_generic_docstrings(edition):
    """No torch.autograd.Function or namedtuple boilerplate shown as celib's documentation."""
    import torch

    phrases = ["Alias for field number"]
    for attr in ("forward", "backward", "setup_context", "jvp", "vmap"):
        doc = inspect.getdoc(getattr(torch.autograd.Function, attr, None)) or ""
        if doc:
            phrases.append(doc.split(".")[0].strip())
    text = re.sub(r"\s+", " ", soup(api_path(edition)).get_text(" "))
    check(
        api_path(edition),
        "inherited generic docstrings on the API page",
        [f"“{p[:80]}”" for p in phrases if p and re.sub(r"\s+", " ", p) in text],
    )


def load_inventory(path):
    from sphinx.util.inventory import InventoryFile

    with open(path, "rb") as stream:
        return InventoryFile.load(stream, "", lambda base, uri: uri)


def test_objects_inv_lists_celib_objects(edition):
    inv_path = edition.root / "objects.inv"
    assert inv_path.exists(), f"{inv_path} missing"
    inventory = load_inventory(inv_path)
    py = {name for domain, items in inventory.items() if domain.startswith("py:") for name in items}
    modules, objects = public_api()
    missing = [m for m in modules if m not in inventory.get("py:module", {})]
    missing += [name for name, _ in objects if name not in py]
    domains = sorted(inventory)
    check(
        f"{edition.prefix}objects.inv",
        f"celib objects missing from objects.inv (it has domains {domains}, {len(py)} Python objects)",
        missing,
        limit=8,
    )


def test_genindex_lists_celib_objects(edition):
    page = soup(f"{edition.prefix}genindex.html")
    links = [a.get("href", "") for a in page.select("table.indextable a")]
    problems = [] if links else ["genindex.html has no index entries at all"]
    problems += [
        f"{name}: no index entry linking to api.html#{name}"
        for name, _ in public_api()[1]
        if not any(h.endswith(f"api.html#{name}") for h in links)
    ]
    check(f"{edition.prefix}genindex.html", "celib objects missing from the general index", problems, limit=8)


def test_chapters_link_to_api_entries(edition):
    """A chapter that imports celib links at least one celib function to its API entry (by role)."""
    from harness import toc_pages

    problems = []
    for page in toc_pages(edition):
        notebook = ROOT / page.removeprefix(edition.prefix).replace(".html", ".ipynb")
        if not notebook.exists() or not re.search(r"(from|import) celib", notebook.read_text()):
            continue
        hrefs = [a.get("href", "") for a in soup(page).select("article a[href]")]
        if not any(re.search(r"api\.html#celib\.", h) for h in hrefs):
            problems.append(f"{page}: imports celib but links no celib object to api.html#celib.…")
    check(edition.name, "chapters that never link a celib function to the API page", problems, limit=20)
