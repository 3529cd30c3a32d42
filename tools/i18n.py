"""The translation catalogs of the Chinese edition: update them, and check they are complete.

    python -m tools.i18n update   # extract the English messages, merge them into locales/
    python -m tools.i18n check    # fail unless every message is translated, none fuzzy, none stale
    python -m tools.i18n stat     # messages, translated, fuzzy, untranslated, per page

The English text is the notebooks and pages themselves. Sphinx's gettext builder extracts every
paragraph, heading, caption, admonition, exercise and solution (code cells and outputs are not
extracted: both editions share them) into one template per page, and `sphinx-intl update`
merges those templates into ``locales/zh_CN/LC_MESSAGES/book/<page>.po``: a new English message
arrives untranslated, a changed one keeps its old translation marked fuzzy, a removed one is
kept as obsolete. ``check`` fails on any of the three, so a change to the English text lands with
its Chinese counterpart; ``make test`` runs it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
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

    @property
    def ok(self) -> bool:
        return not (self.fuzzy or self.untranslated or self.missing or self.stale)


def extract(outdir: Path) -> None:
    """Write the message templates of the current English text into ``outdir``.

    Not strict: the HTML builds report the same warnings, strictly.
    """
    if build("en", builder="gettext", outdir=outdir, strict=False) != 0:
        raise SystemExit("the gettext build failed (see its warnings above)")


def catalog_dir(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES"


def compare(templates: Path, language: str) -> list[PageStatus]:
    """Compare the catalogs of ``language`` with the templates in ``templates``."""
    statuses = []
    for pot in sorted(templates.glob("book/*.pot")):
        page = pot.relative_to(templates).with_suffix("").as_posix()
        with pot.open("rb") as f:
            wanted = {message.id for message in read_po(f) if message.id}
        status = PageStatus(page, messages=len(wanted))
        po_path = catalog_dir(language) / f"{page}.po"
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
            f"{len(s.untranslated)} untranslated, {len(s.missing)} not in the catalog, {len(s.stale)} stale"
        )
        if not verbose:
            for kind in ("fuzzy", "untranslated", "missing", "stale"):
                for msgid in getattr(s, kind)[:3]:
                    print(f"    {kind}: {msgid[:100]!r}")


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
