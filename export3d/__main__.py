"""``python -m export3d animate|orbit|grid ...`` (see ``export3d/cli.py``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
