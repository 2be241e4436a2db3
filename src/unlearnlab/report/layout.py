"""Tables that fit the page: a wide table is split into several, each repeating the label
column, so no table hides columns behind a scroll bar (report.html and compare).

Widths are estimated in characters: a numeric cell never wraps, a header wraps at spaces
(its longest word counts), and a column of long free text wraps (counted at `TEXT_WRAP`).
`BUDGET` characters fit the page's 1200 px column at the tables' 0.8 rem font with room to
spare; the Chromium test checks the rendered result.
"""

from __future__ import annotations

BUDGET = 125              # characters per table row, cell padding included
PAD = 3                   # padding + border of a cell, in characters
TEXT_WRAP = 28            # a free-text column wraps to about this width


def is_text(cells: list[str]) -> bool:
    """A column of free text (wraps): long cells with several words, not numbers."""
    longest = max((c for c in cells), key=len, default="")
    return len(longest) > TEXT_WRAP and len(longest.split()) > 3 and \
        not any(ch.isdigit() for ch in longest.split()[0][:1])


def widths(header: list[str], rows: list[list[str]]) -> tuple[list[int], list[bool]]:
    """Each column's estimated width in characters and whether it wraps."""
    out, wraps = [], []
    for j, title in enumerate(header):
        cells = [row[j] for row in rows if j < len(row)]
        text = is_text(cells)
        data = TEXT_WRAP if text else max((len(c) for c in cells), default=0)
        head = max((len(w) for w in title.split()), default=0)
        out.append(max(data, head) + PAD)
        wraps.append(text)
    return out, wraps


def fit(table, keep: int = 1, budget: int | None = BUDGET) -> list[dict]:
    """`table` ((header, rows)) as one or more parts of at most `budget` characters, each
    repeating the first `keep` columns: [{"header", "rows", "wrap"}] (one part when
    `budget` is None: the table only wraps its text columns)."""
    budget = budget if budget is not None else float("inf")
    header, rows = table
    width, wraps = widths(header, rows)
    fixed = list(range(min(keep, len(header))))
    groups: list[list[int]] = [[]]
    used = sum(width[j] for j in fixed)
    for j in range(len(fixed), len(header)):
        if groups[-1] and used + width[j] > budget:
            groups.append([])
            used = sum(width[k] for k in fixed)
        groups[-1].append(j)
        used += width[j]
    parts = []
    for group in groups:
        cols = fixed + group
        parts.append({"header": [header[j] for j in cols],
                      "rows": [[row[j] for j in cols] for row in rows],
                      "wrap": [wraps[j] for j in cols]})
    return parts
