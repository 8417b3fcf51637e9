"""``python -m flestimate.authoring docs/map.md``: rewrite the generated tables of canonical
indicator ids and context values in a Markdown page (between the markers of
:func:`~flestimate.authoring.canonical_tables_markdown`)."""

from __future__ import annotations

import sys

from flestimate.authoring import rewrite_generated_block


def main(argv: list[str]) -> int:
    """Rewrite each page given; print which changed."""
    if not argv:
        print("usage: python -m flestimate.authoring PAGE.md ...", file=sys.stderr)
        return 2
    for page in argv:
        print(f"{page}: {'rewritten' if rewrite_generated_block(page) else 'unchanged'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
