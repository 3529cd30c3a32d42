"""tools/pdf.py without a browser: how a built page is rewritten to sit in the one print document."""

from tools.pdf import STRINGS, Page, to_unicode_without_radicals


def test_links_ids_and_sources_are_rewritten_for_one_document(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "a.html").write_text(
        '<html lang="en"><body><article class="bd-article"><section id="s">'
        '<h1>The <code>x</code> title<a class="headerlink" href="#s">#</a></h1>'
        '<a href="b.html#sec">other chapter</a> <a href="#s">same chapter</a> '
        '<a href="../genindex.html">the index</a> <a href="https://example.org/">outside</a>'
        '<img src="../_images/f.png" alt="f">'
        '<table><tr><td><code><span class="pre">a/b/c.cpp</span></code></td></tr></table>'
        "</section></article></body></html>"
    )
    page = Page(tmp_path, "book/a", {"book/a", "book/b"})

    assert page.title == "The x title"
    assert [link["href"] for link in page.article.select("a")] == ["#book/b--sec", "#book/a--s", "https://example.org/"]
    assert "the index" in page.article.get_text()  # a page outside the book: plain text
    assert page.article.section["id"] == "book/a--s"
    assert page.article.img["src"] == "/_images/f.png"
    assert str(page.article.select_one("span.pre")) == '<span class="pre">a/<wbr/>b/<wbr/>c.cpp</span>'


def test_every_language_has_every_word():
    assert all(words.keys() == STRINGS["en"].keys() for words in STRINGS.values())


CMAP = b"""/CIDInit /ProcSet findresource begin
begincmap
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
2 beginbfchar
<0003> <0020>
<0004> <2F00>
endbfchar
1 beginbfrange
<0010> <0012> <2EC4>
endbfrange
endcmap
end
"""


def test_shared_glyphs_read_as_radicals_are_mapped_to_their_ideographs():
    table = {0x2F00: "一", 0x2EC5: "见"}  # what shared_radicals() reads from Noto CJK for these two
    fixed = to_unicode_without_radicals(CMAP, table).decode()
    assert "3 beginbfchar" not in fixed and "5 beginbfchar" in fixed and "beginbfrange" not in fixed
    for code, text in (("0003", " "), ("0004", "一"), ("0010", "\u2ec4"), ("0011", "见"), ("0012", "\u2ec6")):
        assert f"<{code}> <{text.encode('utf-16-be').hex().upper()}>" in fixed
    assert fixed.startswith("/CIDInit") and fixed.rstrip().endswith("endcmap\nend")
    assert to_unicode_without_radicals(CMAP, {0x4E00: "x"}) is None  # nothing to change
