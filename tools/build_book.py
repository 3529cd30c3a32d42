"""Build the book in every language from one configuration, `_config.yml`.

    python -m tools.build_book                 # English into _build/html, Chinese into _build/html/zh_CN
    python -m tools.build_book --language en   # one edition
    python -m tools.build_book --gettext       # message templates (.pot) into _build/gettext

Both editions come from the same notebooks and the same `_config.yml`, through Jupyter Book's
own Sphinx driver; the Chinese one only adds Sphinx's gettext settings (``language``,
``locale_dirs``), so its text comes from the catalogs in ``locales/zh_CN/LC_MESSAGES/`` and its
code and outputs are the English edition's. Builds are strict: any warning fails (``-W -n``).
The editions build at the same time, each in a process of its own (a Sphinx build uses one
core); each one's log is printed when it has finished.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from jupyter_book.sphinx import build_sphinx

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
LOCALE_DIRS = ["locales"]
#: Every edition: its language code and where it is written. English is the source language.
EDITIONS = {"en": BUILD / "html", "zh_CN": BUILD / "html" / "zh_CN"}
# One catalog per page; no source locations in the catalogs (they would hold this machine's paths).
I18N = {"locale_dirs": LOCALE_DIRS, "gettext_compact": False, "gettext_location": False}


def build(
    language: str,
    builder: str = "html",
    outdir: Path | None = None,
    strict: bool = True,
    languages: list[str] | None = None,
    clean_first: bool = True,
) -> int:
    """Run one Sphinx build; return its exit status (with ``strict``, 0 only without warnings).

    ``languages`` are the editions built into the same site: the language switcher links to them.
    ``clean_first`` empties ``outdir`` first (see :func:`clean`).
    """
    # latex_individualpages: Jupyter Book's CLI always passes it; its driver expects it.
    overrides: dict[str, object] = {
        "nitpicky": True,
        "latex_individualpages": False,
        "book_languages": languages or [language],
        **I18N,
    }
    if language != "en":
        overrides["language"] = language
    outdir = outdir or EDITIONS[language]
    if clean_first:
        clean(outdir)
    status = build_sphinx(
        ROOT,
        outdir,
        path_config=ROOT / "_config.yml",
        noconfig=True,  # no conf.py: the configuration is _config.yml
        confoverrides=overrides,
        doctreedir=BUILD / f".doctrees-{language}-{builder}",
        builder=builder,
        freshenv=True,  # re-read every page: a cached page would not repeat its warnings
        warningiserror=strict,
        keep_going=True,
    )
    return status if isinstance(status, int) else 1


def clean(outdir: Path) -> None:
    """Empty ``outdir`` (no page of an earlier build survives), keeping the other editions in it."""
    if not outdir.exists():
        return
    others = {folder.resolve() for folder in EDITIONS.values() if folder.resolve() != outdir.resolve()}
    for entry in outdir.iterdir():
        if entry.resolve() in others:
            continue
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def build_logged(language: str, languages: list[str]) -> tuple[int, str]:
    """:func:`build` of one edition, already cleaned, with its log returned instead of printed."""
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        status = build(language, languages=languages, clean_first=False)
    return status, log.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--language", choices=sorted(EDITIONS), help="build one edition (default: all)")
    parser.add_argument("--gettext", action="store_true", help="write the .pot message templates instead")
    args = parser.parse_args(argv)
    if args.gettext:
        return build("en", builder="gettext", outdir=BUILD / "gettext")
    languages = [args.language] if args.language else list(EDITIONS)
    # Every edition's folder is emptied before any build starts: the Chinese build writes its
    # executed notebooks to _build/html/jupyter_execute, inside the English folder.
    for language in languages:
        clean(EDITIONS[language])
    print(f"building {', '.join(languages)} (each log follows when its build has finished)", flush=True)
    status = 0
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=len(languages), mp_context=context) as pool:
        jobs = {language: pool.submit(build_logged, language, languages) for language in languages}
        for language, job in jobs.items():
            code, log = job.result()
            print(log, end="", flush=True)
            print(f"{language}: file://{EDITIONS[language] / 'index.html'}", flush=True)
            status |= code
    return status


if __name__ == "__main__":
    sys.exit(main())
