"""Make the README screenshot of the demo: ``python examples/screenshot.py [--out docs/images/app.png]``.

Runs the browser test (tests/test_browser.py: headless /usr/bin/chromium via Playwright) with
``EXPORT3D_SCREENSHOT`` set: the app is started with the real checkpoint when it exists
(``EXPORT3D_CHECKPOINT`` or checkpoints/export3d-small, else a random model) and the ``EXPORT3D_DEMO_*`` limits;
the astronaut portrait is uploaded, the "smile" example driver is picked from the gallery, the yaw slider is
dragged to about +22 degrees, and the page is captured after "Animate", "Multi-view grid" and "Orbit video".
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "app.png")
    a = ap.parse_args(argv)
    os.environ["EXPORT3D_SCREENSHOT"] = str(a.out.resolve())
    os.chdir(ROOT)
    import pytest

    code = pytest.main(["-q", "-s", "-p", "no:cacheprovider", "tests/test_browser.py"])
    if code == 0:
        print(f"wrote {a.out}")
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
