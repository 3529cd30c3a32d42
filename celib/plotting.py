"""One look for every figure in the book.

Call :func:`use_book_style` once at the top of a chapter; then draw with plain matplotlib and
finish with ``plt.show()`` (which also closes the figure). Colours come from the Okabe-Ito
palette, which stays distinguishable under the common forms of colour blindness.
"""

from __future__ import annotations

import matplotlib as mpl
from cycler import cycler

#: Okabe-Ito colours by name. The book's colour cycle takes them in the order blue, orange,
#: green, vermillion, sky, purple, yellow, black (the order of this dict).
#:
#: :meta hide-value:
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}


def use_book_style() -> None:
    """Set matplotlib defaults for the book: readable at book width, colour-blind safe.

    >>> use_book_style()
    >>> mpl.rcParams["axes.prop_cycle"].by_key()["color"][0]
    '#0072B2'
    """
    mpl.rcParams.update(
        {
            "figure.figsize": (7.0, 4.0),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.constrained_layout.use": True,
            "axes.prop_cycle": cycler(color=list(PALETTE.values())),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "legend.fontsize": 10,
            "legend.frameon": False,
            "lines.linewidth": 2.0,
        }
    )
