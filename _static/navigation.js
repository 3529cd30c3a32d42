/*
 * Two fixes of the themes' behaviour: the sidebar buttons (below) and search excerpts (at the end).
 *
 * Make the visible sidebar buttons work (sphinx-book-theme 1.3.0 on pydata-sphinx-theme 0.17.1).
 *
 * pydata-sphinx-theme 0.17 renders its own ".primary-toggle" and ".secondary-toggle" inside the
 * top navbar (#pst-header), which sphinx-book-theme hides, and binds the drawer behaviour with
 * document.querySelector(), i.e. to the FIRST such button only: the hidden one. The buttons a
 * reader sees (in the article header) get no handler, so on phones and tablets the chapter list
 * and the page contents cannot be opened, and on desktop the sidebar does not collapse
 * (pydata-sphinx-theme#2451, sphinx-book-theme#988). Upgrading is not possible: the themes that
 * fix it need Sphinx >= 8.2, and Jupyter Book 1.x needs Sphinx 7.
 *
 * The fix forwards a click on any other toggle to the first one, which carries both themes'
 * handlers: the drawer (a <dialog>) below 992 px and sphinx-book-theme's collapse above it.
 * Remove this file when the themes are upgraded past the bug.
 */
document.addEventListener("DOMContentLoaded", () => {
  for (const selector of [".primary-toggle", ".secondary-toggle"]) {
    const [bound, ...visible] = document.querySelectorAll(selector);
    for (const button of visible) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        button.blur(); // dismiss the tooltip the theme shows on focus
        bound.click();
      });
    }
  }
});

/*
 * Search results: each excerpt is the page's own text around the word.
 *
 * Sphinx's searchtools.js (7.4) takes an excerpt from the text of the result page's
 * [role="main"] element, which in sphinx-book-theme begins with the article header (the download
 * menu ".ipynb .pdf" and the language switcher "English" / "中文") and Jupyter Book's print-only
 * title and contents; a word in a heading then gets that furniture as its excerpt. What
 * searchtools.js strips itself (.headerlink, script, style) is not configurable, so the page is
 * stripped of the furniture first. `Search` is searchtools.js's, on the search page only; it
 * fetches the result pages after DOMContentLoaded.
 */
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined") return;
  const htmlToText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll(".bd-header-article, .onlyprint").forEach((element) => element.remove());
    return htmlToText(page.documentElement.outerHTML, anchor);
  };
});
