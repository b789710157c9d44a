"""``python -m export3d.training ...`` (see ``export3d/training/cli.py``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
