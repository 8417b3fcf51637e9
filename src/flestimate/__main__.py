"""``python -m flestimate``: the command line (:mod:`flestimate.cli`)."""

import sys

from flestimate.cli import main

if __name__ == "__main__":
    sys.exit(main())
