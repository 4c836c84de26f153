#!/usr/bin/env python3
"""Check what a reader sees on every chapter page of the built book.

Run by ``scripts/book.sh`` after the Jupyter Book build (and so by CI). For every
page ``_build/html/book/*.html`` it checks, in the page's article body:

- **figures**: at least as many as the chapter's entry in ``expected_figures.yml``
  (the table beside ``_toc.yml``); a figure is an ``img`` element or an inline ``svg``;
- **long lines**: no line of a cell's output is longer than ``--max-line`` characters;
- **machine paths**: no temporary or home-folder path (``/tmp/``, ``/home/``,
  ``/root/``, ``/work/``, ``site-packages``, ...) anywhere in the text;
- **title first**: the page's first element is its title (an ``h1``), not a code cell;
- **raw maths**: no ``$`` outside rendered maths and code (a formula MyST did not parse);
- **weight**: the page and the images it shows stay under ``--max-page-mb`` MB.

A failing check prints one line per problem, ``PAGE: reason``, and exits with status 1.

    python scripts/check_pages.py [--html _build/html] [--expected expected_figures.yml]
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from bs4 import BeautifulSoup, Tag

REPO = Path(__file__).resolve().parents[1]
MAX_LINE = 200
MAX_PAGE_MB = 5.0

#: Paths of the machine that built the page: temporary folders, home folders, installed packages.
MACHINE_PATH = re.compile(
    r"/tmp/|/var/folders/|/private/var/|/var/tmp/|/home/|/root/|/Users/|/work/|/content/|"
    r"site-packages|dist-packages|ipykernel_\d|[A-Za-z]:\\Users\\",
)


class CheckError(Exception):
    """A problem with the check's own inputs (the table, the build folder)."""


@dataclass
class PageReport:
    page: str  # e.g. "book/02_sketches_as_data"
    figures: int = 0
    expected: int = 0
    weight_mb: float = 0.0
    problems: list[str] = field(default_factory=list)


def load_expected(path: Path) -> dict[str, int]:
    """The expected-figures table: ``{"book/02_sketches_as_data": 11, ...}``."""
    try:
        table = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise CheckError(f"{path}: the expected-figures table is missing") from None
    except yaml.YAMLError as e:
        raise CheckError(f"{path}: not valid YAML ({e})") from None
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise CheckError(f"{path}: expected a mapping 'book/NN_name: count', got {type(table).__name__}")
    for key, value in table.items():
        if not isinstance(key, str) or not key.startswith("book/"):
            raise CheckError(f"{path}: key {key!r} must be a page of _toc.yml such as 'book/02_sketches_as_data'")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CheckError(f"{path}: {key}: the count {value!r} must be a whole number >= 0")
    return table


def _article(soup: BeautifulSoup) -> Tag | None:
    return soup.find("article") or soup.find(attrs={"role": "main"})


def count_figures(article: Tag) -> int:
    """``img`` elements and outermost inline ``svg`` elements of the article body."""
    imgs = article.find_all("img")
    svgs = [s for s in article.find_all("svg") if s.find_parent("svg") is None]
    return len(imgs) + len(svgs)


def long_output_lines(article: Tag, max_line: int) -> list[str]:
    """A description of every output line longer than ``max_line`` characters."""
    found = []
    for out in article.select(".cell_output"):
        for pre in out.find_all("pre"):
            for line in pre.get_text().splitlines():
                if len(line) > max_line:
                    found.append(f"{len(line)} characters: {line[:60]!r}...")
    return found


def _without(article: Tag, names: list[str], selectors: str = "") -> Tag:
    body = copy.copy(article)
    for tag in body.find_all(names):
        tag.decompose()
    if selectors:
        for tag in body.select(selectors):
            tag.decompose()
    return body


def machine_paths(article: Tag) -> list[str]:
    """Each line of the article's text (prose, code, outputs) that holds a machine path."""
    text = _without(article, ["script", "style", "noscript"]).get_text()
    found = []
    for line in text.splitlines():
        m = MACHINE_PATH.search(line)
        if m:  # one report per line, around its first path
            found.append(repr(" ".join(line[max(0, m.start() - 40): m.end() + 80].split())))
    return list(dict.fromkeys(found))


def first_element(article: Tag) -> Tag | None:
    for child in article.children:
        if isinstance(child, Tag) and child.name not in ("script", "style", "noscript", "link", "meta"):
            return child
    return None


def title_is_first(article: Tag) -> tuple[bool, str]:
    """Whether the first element of the article is its ``h1`` (directly or as a section's first child)."""
    first = first_element(article)
    if first is None:
        return False, "the article body is empty"
    if first.name == "h1":
        return True, ""
    if first.name == "section":
        inner = first_element(first)
        if inner is not None and inner.name == "h1":
            return True, ""
        first = inner if inner is not None else first
    classes = " ".join(first.get("class", []))
    what = "a code cell" if "cell" in first.get("class", []) else f"<{first.name} class='{classes}'>"
    snippet = " ".join(first.get_text(" ").split())[:60]
    return False, f"the page starts with {what} ({snippet!r}) above its title"


_BLOCKS = ["p", "li", "dt", "dd", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "caption", "figcaption"]


def raw_dollars(article: Tag) -> list[str]:
    """Each paragraph (or other text block) with a ``$`` outside rendered maths and code."""
    body = _without(article, ["script", "style", "noscript", "pre", "code", "kbd", "samp"],
                    ".math, .MathJax, mjx-container, .katex")
    found, counted = [], 0
    for block in body.find_all(_BLOCKS):
        if block.find(_BLOCKS) is not None:
            continue  # the innermost block reports it
        text = " ".join(block.get_text(" ").split())
        if "$" in text:
            counted += text.count("$")
            i = text.index("$")
            found.append(f"{text.count('$')} in {text[max(0, i - 50): i + 50]!r}")
    rest = body.get_text(" ").count("$") - counted
    if rest > 0:
        found.append(f"{rest} outside any paragraph")
    return found


def page_weight_mb(page: Path, soup: BeautifulSoup) -> float:
    """The page's HTML plus every local image it shows, in MB."""
    total = page.stat().st_size
    seen = set()
    for img in soup.find_all("img"):
        src = (img.get("src") or "").split("#")[0].split("?")[0]
        if not src or src.startswith(("data:", "http:", "https:")) or src in seen:
            continue
        seen.add(src)
        f = (page.parent / src).resolve()
        if f.is_file():
            total += f.stat().st_size
    return total / 2**20


def check_html(html: str, page: str, expected: int, max_line: int = MAX_LINE) -> PageReport:
    """Check one page's HTML (no file access): everything except the weight."""
    report = PageReport(page, expected=expected)
    soup = BeautifulSoup(html, "html.parser")
    article = _article(soup)
    if article is None:
        report.problems.append("no <article> element: not a Jupyter Book page")
        return report
    body = soup.find("body")
    if body is not None and body.get("data-default-mode") == "":
        report.problems.append('the theme\'s default mode is empty: pydata-sphinx-theme logs "Got invalid theme mode" '
                               "on a reader's first visit (set sphinx.config.html_context.default_mode in _config.yml)")
    report.figures = count_figures(article)
    if report.figures < expected:
        report.problems.append(
            f"shows {report.figures} figure(s), expected at least {expected} (expected_figures.yml): "
            "a figure did not render (MPLBACKEND=Agg in the kernel? a plot that failed?)"
        )
    for line in long_output_lines(article, max_line):
        report.problems.append(f"output line longer than {max_line} characters: {line}")
    for where in machine_paths(article):
        report.problems.append(f"temporary or home-folder path of the build machine: {where}")
    ok, why = title_is_first(article)
    if not ok:
        report.problems.append(why)
    for where in raw_dollars(article):
        report.problems.append(f"raw '$' outside rendered maths (a formula that did not render?): {where}")
    return report


def check_page(path: Path, page: str, expected: int, max_line: int = MAX_LINE,
               max_page_mb: float = MAX_PAGE_MB) -> PageReport:
    """Check one built page file, its weight included."""
    html = path.read_text(encoding="utf-8")
    report = check_html(html, page, expected, max_line)
    report.weight_mb = page_weight_mb(path, BeautifulSoup(html, "html.parser"))
    if report.weight_mb > max_page_mb:
        report.problems.append(f"page and its images weigh {report.weight_mb:.1f} MB, more than {max_page_mb:g} MB")
    return report


def check_book(html_dir: Path, expected_path: Path, max_line: int = MAX_LINE,
               max_page_mb: float = MAX_PAGE_MB) -> list[PageReport]:
    """Check every page of ``html_dir/book``; every page of the table must have been built."""
    expected = load_expected(expected_path)
    pages = sorted((html_dir / "book").glob("*.html"))
    if not pages:
        raise CheckError(f"no pages in {html_dir / 'book'}: build the book first (bash scripts/book.sh)")
    reports = []
    built = set()
    for path in pages:
        name = f"book/{path.stem}"
        built.add(name)
        reports.append(check_page(path, name, expected.get(name, 0), max_line, max_page_mb))
    for name in sorted(set(expected) - built):
        missing = PageReport(name, expected=expected[name])
        missing.problems.append(f"listed in {expected_path.name} but not built ({html_dir / name}.html is missing)")
        reports.append(missing)
    return reports


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--html", type=Path, default=REPO / "_build" / "html", help="the built book (default: _build/html)")
    ap.add_argument("--expected", type=Path, default=REPO / "expected_figures.yml",
                    help="the expected-figures table (default: expected_figures.yml beside _toc.yml)")
    ap.add_argument("--max-line", type=int, default=MAX_LINE, help="longest output line allowed, in characters")
    ap.add_argument("--max-page-mb", type=float, default=MAX_PAGE_MB, help="heaviest page allowed, images included")
    args = ap.parse_args(argv)
    try:
        reports = check_book(args.html, args.expected, args.max_line, args.max_page_mb)
    except CheckError as e:
        print(f"check_pages: {e}", file=sys.stderr)
        return 2
    print(f"{'page':36s} {'figures':>9s} {'MB':>5s}  result")
    for r in reports:
        print(f"{r.page:36s} {r.figures:4d}/{r.expected:<4d} {r.weight_mb:5.1f}  "
              f"{'ok' if not r.problems else f'{len(r.problems)} problem(s)'}")
    failed = [r for r in reports if r.problems]
    total = sum(r.figures for r in reports)
    print(f"{total} figures on {len(reports)} pages")
    if failed:
        print(f"\nthe reader check failed on {len(failed)} page(s):", file=sys.stderr)
        for r in failed:
            for p in r.problems:
                print(f"{r.page}: {p}", file=sys.stderr)
        return 1
    print("the reader check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
