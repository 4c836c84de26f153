"""The reader check of the built book (scripts/check_pages.py), on small pages shaped like
Jupyter Book 1's, and on a real built chapter when _build/html exists."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_pages", REPO / "scripts" / "check_pages.py")
check_pages = importlib.util.module_from_spec(_spec)
sys.modules["check_pages"] = check_pages  # dataclasses look their module up there
_spec.loader.exec_module(check_pages)

IMG = '<img alt="../_images/{0}.png" src="../_images/{0}.png"/>'
CODE_CELL = (
    '<div class="cell docutils container"><div class="cell_input docutils container">'
    '<div class="highlight-ipython3 notranslate"><div class="highlight"><pre>{code}</pre></div></div></div>'
    '<div class="cell_output docutils container">{outputs}</div></div>'
)
STREAM = '<div class="output stream highlight-myst-ansi notranslate"><div class="highlight"><pre>{}</pre></div></div>'
MATH = '<span class="math notranslate nohighlight">\\({}\\)</span>'


def page(body: str, before_title: str = "") -> str:
    """A chapter page as Jupyter Book 1 writes it: the article holds the title's section."""
    return (
        '<html><body><main><article class="bd-article">'
        f"{before_title}"
        '<section class="tex2jax_ignore mathjax_ignore" id="a-chapter">'
        '<h1>A chapter<a class="headerlink" href="#a-chapter">#</a></h1>'
        f"{body}</section>"
        '<script type="text/x-thebe-config">{ path: "./book" }</script>'
        "</article></main></body></html>"
    )


def good_body(figures: int = 2) -> str:
    cells = "".join(
        CODE_CELL.format(code="plot_grid(drawings)", outputs=IMG.format(f"fig{k}") + STREAM.format("9 drawings"))
        for k in range(figures)
    )
    offsets = MATH.format("(\\Delta x, \\Delta y)")
    return f"<p>The offsets {offsets} of a drawing.</p>" + cells


def problems(html: str, expected: int = 2) -> list[str]:
    return check_pages.check_html(html, "book/99_test", expected).problems


def test_a_page_with_its_figures_and_clean_text_passes():
    assert problems(page(good_body(2))) == []


def test_a_page_counts_its_figures():
    assert check_pages.check_html(page(good_body(3)), "book/99_test", 2).figures == 3


def test_inline_svg_figures_count_once_each():
    svg = '<svg width="10"><g><svg width="5"></svg></g></svg>'
    body = CODE_CELL.format(code="fig", outputs=svg) + CODE_CELL.format(code="fig", outputs=svg)
    assert check_pages.check_html(page(body), "book/99_test", 2).figures == 2


def test_a_page_with_a_figure_removed_fails():
    found = problems(page(good_body(1)), expected=2)
    assert len(found) == 1 and "shows 1 figure(s), expected at least 2" in found[0]


def test_an_output_line_longer_than_200_characters_fails():
    body = good_body() + CODE_CELL.format(code="print(registry)", outputs=STREAM.format("x" * 201))
    found = problems(page(body))
    assert len(found) == 1 and "longer than 200 characters: 201 characters" in found[0]


def test_an_output_line_of_200_characters_passes():
    body = good_body() + CODE_CELL.format(code="print(registry)", outputs=STREAM.format("x" * 200))
    assert problems(page(body)) == []


def test_long_lines_in_code_or_prose_are_not_output_lines():
    body = good_body() + f"<p>{'word ' * 100}</p>" + CODE_CELL.format(code="y" * 300, outputs="")
    assert problems(page(body)) == []


@pytest.mark.parametrize("path", [
    "/tmp/ipykernel_8708/1810424120.py:3: UserWarning: hello",
    "saved to /tmp/tmpa8x2k/run/best.pt",
    "/home/runner/work/book/sketchlib/x.py:12: FutureWarning",
    "/root/.cache/sketchlib/quickdraw/face.npz",
    "/usr/lib/python3/site-packages/torch/nn/modules/rnn.py:83: UserWarning",
])
def test_a_temporary_or_home_folder_path_in_an_output_fails(path):
    body = good_body() + CODE_CELL.format(code="train()", outputs=STREAM.format(path))
    found = problems(page(body))
    assert len(found) == 1 and "path of the build machine" in found[0] and path[:20] in found[0]


def test_a_path_in_the_prose_fails_too():
    found = problems(page(good_body() + "<p>Run it from /work/main first.</p>"))
    assert len(found) == 1 and "/work/main" in found[0]


def test_a_relative_repository_path_passes():
    body = good_body() + "<p>The checkpoints live in <code>data/checkpoints/</code> and <code>runs/faces</code>.</p>"
    assert problems(page(body)) == []


def test_a_code_cell_above_the_title_fails():
    setup = CODE_CELL.format(code="subprocess.run(['git', 'clone', REPO])", outputs=STREAM.format("device: cpu"))
    found = problems(page(good_body(), before_title=setup))
    assert len(found) == 1 and "starts with a code cell" in found[0] and "above its title" in found[0]


def test_a_paragraph_above_the_title_fails():
    found = problems(page(good_body(), before_title="<p>Open in Colab</p>"))
    assert len(found) == 1 and "above its title" in found[0]


def test_a_raw_dollar_around_rendered_maths_fails():
    formula = MATH.format("[\\mu; \\hat\\sigma] = W")
    body = good_body() + f"<ol><li><p><strong>to the encoder</strong>: ${formula}$</p></li></ol>"
    found = problems(page(body))
    assert len(found) == 1 and "raw '$'" in found[0] and "2 in" in found[0] and "to the encoder" in found[0]


def test_an_unparsed_formula_fails():
    found = problems(page(good_body() + "<p>the loss is $L_R + L_{KL}$ per point</p>"))
    assert len(found) == 1 and "raw '$'" in found[0]


def test_dollars_in_code_and_outputs_are_not_maths():
    output = CODE_CELL.format(code="x", outputs=STREAM.format("cost $3"))
    body = good_body() + "<p>Run <code>echo $HOME</code>.</p>" + output
    assert problems(page(body)) == []


def test_a_page_whose_theme_has_no_default_mode_fails():
    """pydata-sphinx-theme writes <body data-default-mode=""> without html_context.default_mode, and its
    script then logs an error on the reader's first visit."""
    html = page(good_body())
    assert problems(html.replace("<body>", '<body data-default-mode="auto">')) == []
    assert any("default mode is empty" in p for p in problems(html.replace("<body>", '<body data-default-mode="">')))


def test_a_page_without_an_article_fails():
    assert "no <article> element" in problems("<html><body><p>hi</p></body></html>")[0]


def write_book(tmp_path: Path, pages: dict[str, str], table: str) -> tuple[Path, Path]:
    html = tmp_path / "html"
    (html / "book").mkdir(parents=True)
    for name, text in pages.items():
        (html / "book" / f"{name}.html").write_text(text)
    expected = tmp_path / "expected_figures.yml"
    expected.write_text(table)
    return html, expected


def test_main_passes_on_a_good_book(tmp_path, capsys):
    html, expected = write_book(tmp_path, {"01_intro": page(good_body(2))}, "book/01_intro: 2\n")
    assert check_pages.main(["--html", str(html), "--expected", str(expected)]) == 0
    assert "the reader check passed" in capsys.readouterr().out


def test_main_fails_naming_the_chapter_and_the_reason(tmp_path, capsys):
    html, expected = write_book(tmp_path, {"01_intro": page(good_body(2)), "05_cond": page(good_body(1))},
                                "book/01_intro: 2\nbook/05_cond: 3\n")
    assert check_pages.main(["--html", str(html), "--expected", str(expected)]) == 1
    err = capsys.readouterr().err
    assert re.search(r"^book/05_cond: shows 1 figure\(s\), expected at least 3", err, re.MULTILINE)
    assert "book/01_intro" not in err


def test_main_fails_when_a_listed_chapter_was_not_built(tmp_path, capsys):
    html, expected = write_book(tmp_path, {"01_intro": page(good_body(2))}, "book/01_intro: 2\nbook/02_data: 1\n")
    assert check_pages.main(["--html", str(html), "--expected", str(expected)]) == 1
    assert "book/02_data: listed in expected_figures.yml but not built" in capsys.readouterr().err


def test_main_fails_on_a_page_heavier_than_the_limit(tmp_path, capsys):
    html, expected = write_book(tmp_path, {"01_intro": page(good_body(2))}, "book/01_intro: 2\n")
    (html / "_images").mkdir()
    (html / "_images" / "fig0.png").write_bytes(b"\0" * 2**20)
    assert check_pages.main(["--html", str(html), "--expected", str(expected), "--max-page-mb", "0.5"]) == 1
    assert "book/01_intro: page and its images weigh 1.0 MB" in capsys.readouterr().err


def test_main_explains_a_missing_build(tmp_path, capsys):
    expected = tmp_path / "expected_figures.yml"
    expected.write_text("book/01_intro: 1\n")
    assert check_pages.main(["--html", str(tmp_path / "nothing"), "--expected", str(expected)]) == 2
    assert "build the book first" in capsys.readouterr().err


@pytest.mark.parametrize("table, message", [
    ("book/01_intro: many\n", "book/01_intro: the count 'many' must be a whole number"),
    ("book/01_intro: -1\n", "must be a whole number >= 0"),
    ("01_intro: 1\n", "key '01_intro' must be a page of _toc.yml"),
    ("- book/01_intro\n", "expected a mapping"),
])
def test_a_bad_table_is_named_with_its_entry(tmp_path, table, message):
    path = tmp_path / "expected_figures.yml"
    path.write_text(table)
    with pytest.raises(check_pages.CheckError, match=re.escape(message)):
        check_pages.load_expected(path)


def test_the_repository_table_lists_every_notebook_chapter_of_the_toc():
    import yaml

    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    chapters = [toc["root"]] + [c["file"] for c in toc["chapters"]]
    notebooks = [c for c in chapters if (REPO / f"{c}.ipynb").exists()]
    table = check_pages.load_expected(REPO / "expected_figures.yml")
    listed = [c for c in notebooks if c in table]
    assert len(listed) >= 13 and all(table[c] >= 1 for c in listed)


BUILT = REPO / "_build" / "html" / "book" / "02_sketches_as_data.html"


@pytest.mark.skipif(not BUILT.exists(), reason="no built book: run bash scripts/book.sh first")
def test_a_real_built_chapter_fails_once_one_of_its_figures_is_removed():
    html = BUILT.read_text(encoding="utf-8")
    table = check_pages.load_expected(REPO / "expected_figures.yml")
    real = check_pages.check_html(html, "book/02_sketches_as_data", table["book/02_sketches_as_data"])
    assert real.figures >= 1
    exact = check_pages.check_html(html, "book/02_sketches_as_data", real.figures)
    assert not any("figure" in p for p in exact.problems)
    first_img = re.search(r"<img [^>]*_images/[^>]*>", html)  # a cell output's figure, not the theme's logo
    without = html[: first_img.start()] + html[first_img.end():]
    found = check_pages.check_html(without, "book/02_sketches_as_data", real.figures).problems
    assert any(f"shows {real.figures - 1} figure(s), expected at least {real.figures}" in p for p in found)
