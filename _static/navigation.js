/*
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
