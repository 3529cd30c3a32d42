"""The translation catalogs of the Chinese edition: update them, and check they are complete.

    python -m tools.i18n update   # extract the English messages, merge them into locales/
    python -m tools.i18n check    # fail unless every message is translated, none fuzzy, none stale,
                                  # and no translation breaks the markup of its English message
    python -m tools.i18n stat     # messages, translated, fuzzy, untranslated, per page

The English text is the notebooks and pages themselves. Sphinx's gettext builder extracts every
paragraph, heading, caption, admonition, exercise and solution (code cells and outputs are not
extracted: both editions share them) into one template per page, and `sphinx-intl update`
merges those templates into ``locales/zh_CN/LC_MESSAGES/book/<page>.po``: a new English message
arrives untranslated, a changed one keeps its old translation marked fuzzy, a removed one is
kept as obsolete. ``check`` fails on any of the three, so a change to the English text lands with
its Chinese counterpart; ``make test`` runs it (``make i18n``).

``check`` also fails on a translation that breaks the markup of its English message
(``markup_problems``): every math span (``$...$``, ``$$...$$``), inline code span, role
(``{doc}``, ``{ref}``, ``{cite:p}``, ``{term}``, ...), link target and substitution
(``{{ version }}``) of the msgid must appear, unchanged, in the msgstr. The text of a link or of
a role with an explicit title (``{doc}`the entropy chapter <entropy>```) may be translated;
its target may not.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.pofile import read_po

from tools.build_book import ROOT, build

LANGUAGES = ["zh_CN"]
LOCALES = ROOT / "locales"


@dataclass
class PageStatus:
    """How one page's catalog compares with the messages of the current English text."""

    page: str
    messages: int = 0
    translated: int = 0
    fuzzy: list[str] = field(default_factory=list)
    untranslated: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the text, not in the catalog
    stale: list[str] = field(default_factory=list)  # in the catalog, no longer in the text
    broken: list[str] = field(default_factory=list)  # translated, but the markup did not survive

    @property
    def ok(self) -> bool:
        return not (self.fuzzy or self.untranslated or self.missing or self.stale or self.broken)


# --- the markup a translation must keep --------------------------------------------------------

# A role: {name}`content` (the name may hold colons: {cite:p}, {py:func}); backticks may be doubled.
ROLE = re.compile(r"\{(?P<name>[A-Za-z][\w:+.-]*)\}(?P<ticks>`+)(?P<content>.+?)(?P=ticks)", re.S)
CODE = re.compile(r"(?<!`)(?P<ticks>`+)(?P<content>.+?)(?P=ticks)(?!`)", re.S)
SUBSTITUTION = re.compile(r"\{\{\s*(?P<name>[\w.-]+)\s*\}\}")
DISPLAY_MATH = re.compile(r"(?<!\\)\$\$(?P<content>.+?)(?<!\\)\$\$", re.S)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)(?P<content>.+?)(?<![\\$])\$(?!\$)", re.S)
# A Markdown link or image [text](target "title"), a footnote reference [^label], an autolink <url>.
LINK = re.compile(r"\]\((?P<target><[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\)")
FOOTNOTE = re.compile(r"\[\^(?P<label>[^\]\s]+)\]")
AUTOLINK = re.compile(r"<(?P<url>(?:https?|mailto|ftp):[^>\s]+)>")
# A role whose content may be "title <target>": only the target must survive.
TITLED = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", re.S)


def _squash(text: str) -> str:
    """Whitespace inside a span is not significant: a translator may rewrap the paragraph."""
    return " ".join(text.split())


def markup_tokens(text: str) -> tuple[Counter[str], list[str]]:
    """The markup of one message that a translation must keep, as counted tokens, and the
    delimiters left unpaired once every span is taken out (a ``$`` or backtick with no partner)."""
    tokens: Counter[str] = Counter()

    def role(match: re.Match) -> str:
        name, content = match["name"], _squash(match["content"])
        titled = TITLED.match(content)
        if titled and name not in {"math", "code", "cite", "cite:p", "cite:t", "footcite", "footcite:p", "footcite:t"}:
            tokens[f"{{{name}}}`… <{titled['target']}>`"] += 1
        else:
            tokens[f"{{{name}}}`{content}`"] += 1
        return " "

    def span(kind: str, group: str):
        def take(match: re.Match) -> str:
            tokens[f"{kind}{_squash(match[group])}"] += 1
            return " "

        return take

    rest = ROLE.sub(role, text)
    rest = CODE.sub(span("code: ", "content"), rest)
    rest = SUBSTITUTION.sub(span("substitution: ", "name"), rest)
    rest = DISPLAY_MATH.sub(span("display math: ", "content"), rest)
    rest = INLINE_MATH.sub(span("math: ", "content"), rest)
    rest = LINK.sub(span("link target: ", "target"), rest)
    rest = FOOTNOTE.sub(span("footnote: ", "label"), rest)
    rest = AUTOLINK.sub(span("link: ", "url"), rest)
    unpaired = []
    if re.search(r"(?<!\\)\$", rest):
        unpaired.append("$")
    if "`" in rest:
        unpaired.append("`")
    return tokens, unpaired


def markup_problems(msgid: str, msgstr: str) -> list[str]:
    """What of the markup of ``msgid`` the translation ``msgstr`` lost or changed (empty: none).

    Every math span, inline code span, role, link target, footnote reference and substitution
    of the English must appear unchanged in the translation, as often; a role or link may have
    its title translated. A ``$`` or backtick left without a partner in the translation (while
    the English has none) is reported too: it would show as raw markup on the page.
    """
    wanted, _ = markup_tokens(msgid)
    have, unpaired = markup_tokens(msgstr)
    _, unpaired_en = markup_tokens(msgid)
    problems = [
        f"missing or changed {token}" + (f" (needed {n}, found {have[token]})" if have[token] else "")
        for token, n in sorted(wanted.items())
        if have[token] < n
    ]
    problems += [f"unpaired {d} in the translation" for d in unpaired if d not in unpaired_en]
    return problems


def extract(outdir: Path) -> None:
    """Write the message templates of the current English text into ``outdir``.

    Not strict: the HTML builds report the same warnings, strictly.
    """
    if build("en", builder="gettext", outdir=outdir, strict=False) != 0:
        raise SystemExit("the gettext build failed (see its warnings above)")


def catalog_dir(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES"


def compare(templates: Path, language: str, catalogs: Path | None = None) -> list[PageStatus]:
    """Compare the catalogs of ``language`` (in ``catalogs``, default ``locales/<language>/LC_MESSAGES``)
    with the templates in ``templates``."""
    catalogs = catalogs or catalog_dir(language)
    statuses = []
    for pot in sorted(templates.glob("**/*.pot")):
        page = pot.relative_to(templates).with_suffix("").as_posix()
        with pot.open("rb") as f:
            wanted = {message.id for message in read_po(f) if message.id}
        status = PageStatus(page, messages=len(wanted))
        po_path = catalogs / f"{page}.po"
        have = {}
        if po_path.exists():
            with po_path.open("rb") as f:
                catalog = read_po(f)
            have = {message.id: message for message in catalog if message.id}
            status.stale = [message.id for message in catalog.obsolete.values()]
        for msgid in sorted(wanted):
            message = have.get(msgid)
            if message is None:
                status.missing.append(msgid)
            elif message.fuzzy:
                status.fuzzy.append(msgid)
            elif not message.string:
                status.untranslated.append(msgid)
            else:
                status.translated += 1
                status.broken += [f"{msgid[:60]!r}: {p}" for p in markup_problems(msgid, message.string)]
        status.stale += sorted(set(have) - wanted)
        statuses.append(status)
    return statuses


def update() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        extract(Path(tmp))
        for language in LANGUAGES:
            subprocess.run(
                [sys.executable, "-m", "sphinx_intl", "update", "-p", tmp, "-d", str(LOCALES), "-l", language],
                check=True,
            )


def report(statuses: list[PageStatus], language: str, verbose: bool) -> None:
    total = sum(s.messages for s in statuses)
    done = sum(s.translated for s in statuses)
    fuzzy = sum(len(s.fuzzy) for s in statuses)
    print(f"{language}: {total} messages, {done} translated, {fuzzy} fuzzy, {total - done - fuzzy} not translated")
    for s in statuses:
        if s.ok and not verbose:
            continue
        print(
            f"  {s.page}: {s.messages} messages, {s.translated} translated, {len(s.fuzzy)} fuzzy, "
            f"{len(s.untranslated)} untranslated, {len(s.missing)} not in the catalog, {len(s.stale)} stale, "
            f"{len(s.broken)} with broken markup"
        )
        if not verbose:
            for kind in ("fuzzy", "untranslated", "missing", "stale"):
                for msgid in getattr(s, kind)[:3]:
                    print(f"    {kind}: {msgid[:100]!r}")
            for problem in s.broken:  # every one: each is a defect to fix by hand
                print(f"    broken markup: {problem}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["update", "check", "stat"])
    args = parser.parse_args(argv)
    if args.command == "update":
        update()
        return 0
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        extract(Path(tmp))
        for language in LANGUAGES:
            statuses = compare(Path(tmp), language)
            report(statuses, language, verbose=args.command == "stat")
            failed |= not all(s.ok for s in statuses)
    if args.command == "check" and failed:
        print("Run `python -m tools.i18n update`, translate the new or fuzzy messages, and remove the fuzzy flags.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
