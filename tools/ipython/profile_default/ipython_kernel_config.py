"""The IPython kernel settings behind the book's committed outputs.

The Makefile exports ``IPYTHONDIR`` as this folder, so ``make notebooks`` and nbval run every
chapter in a kernel configured like this; a kernel started elsewhere (Jupyter Lab, Colab) keeps
its own defaults, which changes only how tracebacks, warnings and figures are displayed.
"""

c = get_config()  # noqa: F821 (IPython provides get_config in config files)

# Tracebacks end in the real message without frames: a chapter that demonstrates an error
# shows "ValueError: ...", not forty lines of library frames with this machine's paths.
c.InteractiveShell.xmode = "Minimal"

# Warnings are shown as "Category: message", without the file path and line of the library
# code that issued them (they would show this machine's site-packages path).
c.IPKernelApp.exec_lines = [
    '__import__("warnings").formatwarning = '
    'lambda message, category, *args, **kwargs: f"{category.__name__}: {message}\\n"'
]

# Figures are PNGs at twice their display size, crisp on high-DPI screens.
c.InlineBackend.figure_formats = {"retina"}

# No history database in the repository.
c.HistoryManager.enabled = False
