"""Sphinx extension for the book's site: what `_config.yml` alone cannot express.

Loaded through ``sphinx.local_extensions`` in ``_config.yml``. It does four things:

1. **One source for settings.** The version shown in the footer is ``celib.__version__``; the
   repository URL is the single setting ``repository.url`` of ``_config.yml``: when it is empty
   (as now, the book has no public repository yet) no repository, issue, edit or launch button
   is shown, because each of them would point nowhere.
2. **Honest GPU cells.** A cell tagged ``gpu`` gets a visible note (class ``gpu-note``): either
   that it needs a CUDA GPU and has not been run on one yet, or which GPU and which PyTorch
   produced its committed output (read from the cell metadata ``celib.gpu_run`` that
   ``tools/run_notebooks.py`` records when it executes the cell on a GPU).
3. **One citation style.** Bibliography labels are "Author Year" (``Shannon 1948``,
   ``Cover and Thomas 2006``, ``Paszke et al. 2019``); chapters cite with ``{cite:p}``
   ("[Shannon 1948]") or ``{cite:t}`` ("Shannon 1948"), the same label the bibliography page
   lists every work under.
4. **Per-chapter reference lists.** The directive ``{chapter-references}`` lists the works the
   current page cites, under the same labels, each linked to its entry on the bibliography page.
5. **A lighter site.** After the build, the MathJax bundles that no page loads and the themes'
   source maps are removed from ``_static`` (29.5 MiB before, 11.4 MiB after).
6. **The words around the pages, translated.** Page text is translated by Sphinx's gettext
   workflow (one catalog per page). What is not page text has its own catalog,
   ``locales/<language>/LC_MESSAGES/site.po``: the book's title and author, the footer, the 404
   page, the search box placeholder, the figure-number format, and the alt text of every figure
   (notebook cell metadata ``mystnb.image.alt``). The gettext build writes its template,
   ``site.pot``, next to the pages' templates, so ``python -m tools.i18n update`` and ``check``
   treat it like any page; a translated build warns (strict: fails) on a string of it that has no
   translation. The toctree part captions are page text of the root page, translated here
   because sphinx-external-toc inserts them after Sphinx's own translation step.
7. **Chinese search.** For ``zh_CN`` the search index is built with jieba (Sphinx's Chinese
   splitter) and a user dictionary generated from ``locales/zh_CN/terminology.csv``, so a term
   such as 交叉熵 is one search word.
"""

from __future__ import annotations

import csv
import datetime
import html
import inspect
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po
from docutils import nodes
from docutils.parsers.rst import Directive
from pybtex.plugin import find_plugin, register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.locale import init as init_locale
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx.util.i18n import docname_to_domain
from sphinxcontrib.bibtex import plugin as bibtex_plugins
from sphinxcontrib.bibtex.style.referencing.basic_label import BasicLabelTextualReferenceStyle
from sphinxcontrib.bibtex.style.referencing.label import LabelReferenceStyle
from sphinxcontrib.bibtex.style.template import entry_label, join2, post_text, pre_text, reference

GPU_NOTES = {
    "en": {
        "not_run": "This cell needs a CUDA GPU and has not been run on one yet, so it shows no "
        "output. The CPU tests skip it.",
        "ran_on": "Output from a run on {device} with PyTorch {torch}.",
    },
    "zh_CN": {
        "not_run": "这个单元需要 CUDA GPU，尚未在 GPU 上运行过，因此没有输出。CPU 上的测试会跳过它。",
        "ran_on": "输出来自 {device} 上的一次运行，PyTorch {torch}。",
    },
}

#: The editions of the book, in the order of the language switcher. The Chinese edition is built
#: into the ``zh_CN/`` folder of the English site (tools/build_book.py).
EDITIONS = {
    "en": {"folder": "", "label": "English", "hreflang": "en", "title": "Read this page in English"},
    "zh_CN": {"folder": "zh_CN/", "label": "中文", "hreflang": "zh-CN", "title": "阅读本页的中文版"},
}

logger = logging.getLogger(__name__)

#: The catalog of what is not page text (see 6. above), beside the pages' catalogs.
SITE_DOMAIN = "site"
FOOTER = "Version {version}, built {built}. Code: MIT licence; text and figures: CC BY 4.0 (see LICENSE)."

SIDEBAR_LINKS = {
    "en": {"label": "The book as one file", "pdf": "The whole book as PDF"},
    "zh_CN": {"label": "整本书", "pdf": "整本书的 PDF"},
}


# --- 1. settings ------------------------------------------------------------------------------


def site_strings(config: Config) -> dict[str, str]:
    """The translatable settings of the site, by what they are (their English text as msgid)."""
    strings = {
        "title": config.html_title,
        "author": config.author,
        "footer": FOOTER,
        "search": config.html_theme_options.get("search_bar_text", ""),
        "404 title": config.notfound_context.get("title", ""),
        "404 body": config.notfound_context.get("body", ""),
    }
    strings |= {f"number {kind}": text for kind, text in sorted(config.numfig_format.items())}
    return {key: text for key, text in strings.items() if text}


class SiteCatalog:
    """The translations of ``site.po`` for one language; a string without one is a warning."""

    def __init__(self, srcdir: Path, locale_dirs: list[str], language: str):
        self.language = language
        self.messages: dict[str, str] = {}
        for folder in locale_dirs:
            path = Path(srcdir, folder, language, "LC_MESSAGES", f"{SITE_DOMAIN}.po")
            if path.exists():
                with path.open("rb") as f:
                    catalog = read_po(f)
                self.messages |= {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}

    def __call__(self, msgid: str, where: str) -> str:
        if self.language == "en":
            return msgid
        translated = self.messages.get(msgid)
        if translated is None:
            logger.warning(
                f"{where}: no {self.language} translation in {SITE_DOMAIN}.po for {msgid[:80]!r} "
                "(run `python -m tools.i18n update` and translate it)",
                type="book_site",
                subtype="i18n",
            )
            return msgid
        return translated


def configure(app: Sphinx, config: Config) -> None:
    """Derive the settings that have one source elsewhere (version, repository URL, date)."""
    import celib

    language = config.language or "en"
    translate = app.book_site_catalog = SiteCatalog(app.srcdir, config.locale_dirs, language)
    strings = app.book_site_strings = site_strings(config)
    config.html_title = translate(strings["title"], "_config.yml title")
    config.author = translate(strings["author"], "_config.yml author")
    config.notfound_context = {
        **config.notfound_context,
        **{key: translate(strings[f"404 {key}"], f"notfound_context {key}") for key in ("title", "body")},
    }
    config.numfig_format = {
        kind: translate(text, f"numfig_format {kind}") for kind, text in config.numfig_format.items()
    }
    if language != "en":  # the 404 page of an edition links to that edition's pages and assets
        config.notfound_urls_prefix = config.notfound_urls_prefix.rstrip("/") + "/" + EDITIONS[language]["folder"]
    if "search" in strings:
        config.html_theme_options["search_bar_text"] = translate(strings["search"], "search_bar_text")
    if language.startswith("zh"):
        config.html_search_options = {**config.html_search_options, "dict": str(jieba_dictionary(app, language))}
    config.project = config.html_title
    config.html_context = {**config.html_context, "book_links": SIDEBAR_LINKS.get(language, SIDEBAR_LINKS["en"])}
    config.version = config.release = celib.__version__
    options = config.html_theme_options
    has_repository = bool(options.get("repository_url"))
    for button in ("use_repository_button", "use_issues_button", "use_edit_page_button"):
        options[button] = has_repository
    if not has_repository:
        options["launch_buttons"] = {}
    built = datetime.datetime.fromtimestamp(
        int(os.environ.get("SOURCE_DATE_EPOCH", datetime.datetime.now().timestamp())),
        tz=datetime.UTC,
    ).strftime("%Y-%m-%d")
    config.myst_substitutions = {**config.myst_substitutions, "version": celib.__version__, "build_date": built}
    options["article_header_end"] = ["article-header-buttons.html", "language-switcher.html"]
    footer = translate(FOOTER, "the footer").format(version=celib.__version__, built=built)
    options["extra_footer"] = f'<p class="book-version">{html.escape(footer)}</p>'


def add_edition_links(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Links from this page to the same page in every edition (the language switcher)."""
    language = app.config.language or "en"
    built = app.config.book_languages
    # From this page up to the site root of this edition, then up out of its folder.
    to_root = "../" * pagename.count("/") + "../" * EDITIONS[language]["folder"].count("/")
    context["book_editions"] = [
        {**edition, "url": f"{to_root}{edition['folder']}{pagename}.html", "current": code == language}
        for code, edition in EDITIONS.items()
        if code in built or code == language
    ]


def drop_generic_docstrings(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """No boilerplate on the API page: a named tuple's "Alias for field number 0", or an int
    constant documented with the docstring of ``int`` itself."""
    text = "\n".join(lines).strip()
    type_doc = type(obj).__doc__
    type_doc = inspect.cleandoc(type_doc) if isinstance(type_doc, str) else None
    if re.fullmatch(r"Alias for field number \d+", text) or (what in {"data", "attribute"} and text == type_doc):
        lines[:] = []


# --- 6. the site catalog, 7. Chinese search ---------------------------------------------------


class SiteTranslations(SphinxTransform):
    """Translate the alt text of every image and the toctree part captions; record the alt texts
    (``env.book_site_alts``) for the template ``site.pot``.

    Runs after sphinx-external-toc inserts the toctrees (priority 100)."""

    default_priority = 150

    def apply(self, **kwargs: Any) -> None:
        app = self.app
        alts = self.env.book_site_alts = getattr(self.env, "book_site_alts", {})  # type: ignore[attr-defined]
        alts[self.env.docname] = []
        language = self.config.language or "en"
        translate: SiteCatalog = app.book_site_catalog  # type: ignore[attr-defined]
        for image in self.document.findall(nodes.image):
            alt = image.get("alt")
            if alt:
                alts[self.env.docname].append(alt)
                image["alt"] = translate(alt, f"{self.env.docname}: alt text of {image.get('uri', 'an image')}")
        toctrees = [t for t in self.document.findall(addnodes.toctree) if t.get("caption")]
        if language == "en" or not toctrees:
            return
        dirs = [str(Path(self.env.srcdir, d)) for d in self.config.locale_dirs]
        domain = docname_to_domain(self.env.docname, self.config.gettext_compact)
        catalog, has_catalog = init_locale(dirs, language, domain)
        for toctree in toctrees:
            caption = toctree["caption"]
            translated = catalog.gettext(caption) if has_catalog else caption
            if translated == caption:
                logger.warning(
                    f"{self.env.docname}: the toctree caption {caption!r} has no {language} translation",
                    type="book_site",
                    subtype="i18n",
                )
            toctree["caption"] = translated


PER_PAGE = ("book_site_alts", "book_site_titles")  # what the transforms record, per page


def purge_alts(app: Sphinx, env, docname: str) -> None:
    for name in PER_PAGE:
        getattr(env, name, {}).pop(docname, None)


def merge_alts(app: Sphinx, env, docnames, other) -> None:
    for name in PER_PAGE:
        setattr(env, name, {**getattr(env, name, {}), **getattr(other, name, {})})


def write_site_template(app: Sphinx, exception: Exception | None) -> None:
    """The gettext builder writes ``site.pot``: the site strings, then each page's alt texts."""
    if exception is not None or app.builder.name != "gettext":
        return
    catalog = Catalog(project=app.config.project, charset="utf-8")
    for key, text in app.book_site_strings.items():  # type: ignore[attr-defined]
        catalog.add(text, auto_comments=[key])
    for docname, alts in sorted(getattr(app.env, "book_site_alts", {}).items()):
        for alt in alts:
            catalog.add(alt, auto_comments=[f"alt text, {docname}"])
    with Path(app.outdir, f"{SITE_DOMAIN}.pot").open("wb") as f:
        write_po(f, catalog, omit_header=False, include_previous=False, sort_output=False)


def jieba_dictionary(app: Sphinx, language: str) -> Path:
    """A jieba user dictionary of the Chinese terms of ``terminology.csv`` (one word, a high
    frequency, per line), written into the build's doctree folder, so that the search index
    holds 交叉熵 and 负对数似然 as words, not as pieces."""
    table = Path(app.srcdir, "locales", language, "terminology.csv")
    words: list[str] = []
    with table.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for word in re.findall(r"[\u3400-\u9fff]+", row["中文"]):
                if len(word) > 1 and word not in words:
                    words.append(word)
    path = Path(app.doctreedir, f"jieba-{language}.dict")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{word} 100000 n\n" for word in words), encoding="utf-8")
    return path


# --- 2. gpu cells ----------------------------------------------------------------------------


class GpuCellNotes(SphinxTransform):
    """Append a ``gpu-note`` paragraph to every notebook cell tagged ``gpu``."""

    default_priority = 500

    def apply(self, **kwargs: Any) -> None:
        notes = GPU_NOTES.get(self.config.language or "en", GPU_NOTES["en"])
        for cell in self.document.findall(nodes.container):
            if cell.get("nb_element") != "cell_code" or "tag_gpu" not in cell["classes"]:
                continue
            has_output = any(child.get("nb_element") == "cell_code_output" for child in cell.children)
            run = cell.get("cell_metadata", {}).get("celib", {}).get("gpu_run")
            if has_output and run:
                text = notes["ran_on"].format(device=run["device"], torch=run["torch"])
            elif has_output:
                raise ValueError(
                    f"{self.env.docname}: gpu cell {cell.get('cell_index')} has outputs but no "
                    "celib.gpu_run metadata saying which GPU produced them"
                )
            else:
                text = notes["not_run"]
            cell.append(nodes.paragraph(text, text, classes=["gpu-note"]))


class UntranslatedNodes(SphinxTransform):
    """Keep math and docstrings out of the translation catalogs.

    Display math is the same in every language, and celib's docstrings (the API page) are part of
    the code, which both editions share; translating them in catalogs would only let them go
    stale. Runs before Sphinx's own Locale transform (priority 20).
    """

    default_priority = 10

    def apply(self, **kwargs: Any) -> None:
        for node in self.document.findall(nodes.TextElement):
            if isinstance(node, nodes.math_block) or "docstring of " in (node.source or ""):
                node["translatable"] = False
            elif isinstance(node, nodes.subtitle) and not node.source and node.parent is not None:
                # An exercise's own title ("```{exercise} Inverse-frequency weights ..."):
                # sphinx-exercise builds it without a source, so Sphinx would neither extract
                # nor translate it. Give it its directive's source and its MyST text.
                owner = next((a for a in _ancestors(node) if a.source), None)
                if owner is not None:
                    node.source, node.line = owner.source, owner.line
                    node.rawsource = "".join(_myst_text(child) for child in node.children)
                    titles = getattr(self.env, "book_site_titles", {})
                    titles.setdefault(self.env.docname, []).append((node.rawsource, node.source, node.line))
                    self.env.book_site_titles = titles  # type: ignore[attr-defined]


def extract_exercise_titles(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """The gettext builder extracts messages from the resolved page, where sphinx-exercise has
    already replaced the title by a numbered one without a source: add the titles themselves."""
    if app.builder.name != "gettext":
        return
    from sphinx.builders.gettext import MsgOrigin

    catalog = app.builder.catalogs[docname_to_domain(docname, app.config.gettext_compact)]  # type: ignore[attr-defined]
    for text, source, line in getattr(app.env, "book_site_titles", {}).get(docname, []):
        catalog.add(text, MsgOrigin(source, line))


class ExerciseRegistryTitles(SphinxTransform):
    """A solution's title repeats its exercise's title ("Solution Exercise 1 (Two aces in a
    row)"), which sphinx-exercise takes from the copy of the exercise its directive stored in
    ``env.sphinx_exercise_registry``: a copy made before the exercise's title was translated
    (Locale) and given its typographic quotes (SmartQuotes). Store the finished exercise
    instead, so the solution says what the exercise's own title says, in every edition."""

    default_priority = 800  # after Locale (20) and SmartQuotes (750), before the doctree is pickled

    def apply(self, **kwargs: Any) -> None:
        from sphinx_exercise.nodes import exercise_enumerable_node, exercise_node

        registry = getattr(self.env, "sphinx_exercise_registry", {})
        for node in self.document.findall(lambda n: isinstance(n, (exercise_node, exercise_enumerable_node))):
            entry = registry.get(node.get("label"))
            if entry is not None and entry["docname"] == self.env.docname:
                entry["node"] = node.deepcopy()


def _ancestors(node: nodes.Node):
    while node.parent is not None:
        node = node.parent
        yield node


def _myst_text(node: nodes.Node) -> str:
    """The MyST source of an inline node of a title: code and math get their delimiters back."""
    if isinstance(node, nodes.literal):
        return f"`{node.astext()}`"
    if isinstance(node, nodes.math):
        return f"${node.astext()}$"
    return node.astext()


# --- 3. citation labels ----------------------------------------------------------------------


class AuthorYearLabels(BaseLabelStyle):
    """Labels "Shannon 1948", "Cover and Thomas 2006", "Paszke et al. 2019"; a, b for ties."""

    def format_labels(self, sorted_entries):
        labels = [self._label(entry) for entry in sorted_entries]
        repeated = {label for label in labels if labels.count(label) > 1}
        seen: dict[str, int] = {}
        for label in labels:
            if label in repeated:
                seen[label] = seen.get(label, 0) + 1
                yield f"{label}{'abcdefghijklmnopqrstuvwxyz'[seen[label] - 1]}"
            else:
                yield label

    @staticmethod
    def _label(entry) -> str:
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_plain(" ".join(str(part) for part in person.rich_last_names)) for person in people]
        if len(names) > 2:
            who = f"{names[0]} et al."
        else:
            who = " and ".join(names)
        return f"{who} {entry.fields.get('year', 'n.d.')}"


def _plain(name: str) -> str:
    """Strip the braces BibTeX uses to protect capitals ("{PyTorch Contributors}")."""
    return name.replace("{", "").replace("}", "")


class BookStyle(UnsrtStyle):
    """The unsrt formatting with author-year labels, sorted by author, year, title."""

    default_label_style = AuthorYearLabels
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.formatting", "book", BookStyle)


@dataclass
class _TextualByLabel(BasicLabelTextualReferenceStyle):
    """``{cite:t}`` as the bare label ("Bishop 2006"): the label already names the author."""

    def inner(self, role_name: str) -> Any:
        return join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[pre_text, reference[entry_label], post_text]


@dataclass
class BookReferenceStyle(LabelReferenceStyle):
    """``{cite:p}`` gives "[Bishop 2006]", ``{cite:t}`` gives "Bishop 2006"; both link to the entry."""

    def __post_init__(self) -> None:
        super().__post_init__()
        textual = _TextualByLabel(
            bracket=self.bracket_textual,
            person=self.person,
            text_reference_sep=self.text_reference_sep,
            pre_text_sep=self.pre_text_sep,
            post_text_sep=self.post_text_sep,
        )
        self.role_style.update((role_name, textual) for role_name in textual.role_names())


bibtex_plugins.register_plugin("sphinxcontrib.bibtex.style.referencing", "book", BookReferenceStyle)


# --- 4. per-chapter reference lists ----------------------------------------------------------


class chapter_references(nodes.General, nodes.Element):
    """Placeholder, filled once every citation is resolved."""


class ChapterReferences(Directive):
    has_content = False

    def run(self) -> list[nodes.Node]:
        return [chapter_references()]


def fill_chapter_references(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    placeholders = list(doctree.findall(chapter_references))
    if not placeholders:
        return
    domain = app.env.get_domain("cite")
    cited: list[str] = []
    for ref in domain.citation_refs:  # type: ignore[attr-defined]
        if ref.docname == docname:
            cited.extend(target.key for target in ref.targets if target.key not in cited)
    by_key = {citation.key: citation for citation in domain.citations}  # type: ignore[attr-defined]
    backend = find_plugin("pybtex.backends", "docutils")()
    items = nodes.bullet_list(classes=["chapter-references"])
    for key in sorted(cited, key=lambda k: by_key[k].formatted_entry.label):
        citation = by_key[key]
        bib_doc = citation.bibliography_key.docname
        link = nodes.reference(
            "",
            f"[{citation.formatted_entry.label}]",
            refuri=app.builder.get_relative_uri(docname, bib_doc) + "#" + citation.citation_id,
            internal=True,
        )
        paragraph = backend.paragraph(citation.formatted_entry)
        paragraph.insert(0, nodes.Text(" "))
        paragraph.insert(0, link)
        items += nodes.list_item("", paragraph)
    for placeholder in placeholders:
        placeholder.replace_self(items.deepcopy())


# --- 8. the terminology table -------------------------------------------------------------------


class TerminologyTable(Directive):
    """``{terminology-table}``: the table of ``locales/<language>/terminology.csv`` (English term,
    Chinese term, note), for the edition's language or, in the English edition, the one
    language argument (``zh_CN``). The cells are not page text: they are not translated."""

    optional_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        env = self.state.document.settings.env
        language = env.config.language if env.config.language not in (None, "en") else None
        language = language or (self.arguments[0] if self.arguments else "zh_CN")
        table = Path(env.srcdir, "locales", language, "terminology.csv")
        env.note_dependency(str(table))
        with table.open(encoding="utf-8") as f:
            rows = list(csv.reader(f))
        # Docutils table nodes, each cell parsed as MyST inline text (a Markdown pipe table
        # would split the cells at the "|" of math such as $D_{\mathrm{KL}}(p \,\|\, q)$).
        width = len(rows[0])
        for number, cells in enumerate(rows[1:], start=2):
            if cells and len(cells) != width:
                raise self.error(
                    f"{table.name}: row {number} has {len(cells)} fields, expected {width} "
                    "(quote a field that holds a comma)"
                )
        group = nodes.tgroup(cols=width)
        group += [nodes.colspec(colwidth=1) for _ in range(width)]

        def row(cells: list[str]) -> nodes.row:
            line = nodes.row()
            for text in cells + [""] * (width - len(cells)):
                inline, messages = self.state.inline_text(text.strip(), self.lineno)
                line += nodes.entry("", nodes.paragraph("", "", *inline), *messages)
            return line

        group += nodes.thead("", row(rows[0]))
        group += nodes.tbody("", *(row(r) for r in rows[1:] if r))
        container = nodes.container(classes=["terminology-table"])
        container += nodes.table("", group, classes=["table"])
        for node in container.findall(nodes.TextElement):
            node["translatable"] = False
        return [container]


# --- 5. weight --------------------------------------------------------------------------------

#: What of the MathJax tree that sphinx-mathjax-offline copies no page ever requests. The pages
#: load ``tex-chtml.js``, which fetches what it lacks (CHTML fonts, TeX extensions, the menu,
#: accessibility and speech) on demand from ``output/chtml``, ``input``, ``ui``, ``a11y`` and
#: ``sre``; the other ready-made bundles and the SVG output are alternatives to it.
UNUSED_MATHJAX = (
    "mml-chtml.js",
    "mml-svg.js",
    "node-main.js",
    "tex-chtml-full.js",
    "tex-chtml-full-speech.js",
    "tex-mml-chtml.js",
    "tex-mml-svg.js",
    "tex-svg.js",
    "tex-svg-full.js",
    "output/svg",
    "output/svg.js",
)


def prune_static(app: Sphinx, exception: Exception | None) -> None:
    """Remove the unused MathJax bundles and the source maps (``*.map``, fetched only by a
    browser's developer tools) from the built ``_static``. Runs after sphinx-mathjax-offline's
    copy (a later priority on the same event)."""
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    for name in UNUSED_MATHJAX:
        path = static / "mathjax" / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    for source_map in static.rglob("*.map"):
        source_map.unlink()


def setup(app: Sphinx) -> dict[str, Any]:
    # The editions built into this site (tools/build_book.py): the switcher links only to those.
    app.add_config_value("book_languages", ["en"], "html")
    app.connect("config-inited", configure)
    app.connect("html-page-context", add_edition_links)
    app.setup_extension("sphinx.ext.autodoc")  # its event, connected here, needs it loaded
    app.connect("autodoc-process-docstring", drop_generic_docstrings)
    app.add_transform(GpuCellNotes)
    app.add_transform(UntranslatedNodes)
    app.add_transform(ExerciseRegistryTitles)
    app.add_transform(SiteTranslations)
    app.connect("env-purge-doc", purge_alts)
    app.connect("env-merge-info", merge_alts)
    app.connect("build-finished", write_site_template)
    app.connect("doctree-resolved", extract_exercise_titles)
    app.add_node(chapter_references)
    app.add_directive("chapter-references", ChapterReferences)
    app.add_directive("terminology-table", TerminologyTable)
    app.connect("doctree-resolved", fill_chapter_references)
    app.connect("build-finished", prune_static, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
