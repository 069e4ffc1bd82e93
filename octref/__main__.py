"""``python -m octref``: the same command as the ``octref`` console script."""

import sys

from octref.cli import main

if __name__ == "__main__":
    sys.exit(main())
