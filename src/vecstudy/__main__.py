"""``python -m vecstudy``: the same as the ``vecstudy`` command."""

import sys

from vecstudy.cli import main

if __name__ == "__main__":
    sys.exit(main())
