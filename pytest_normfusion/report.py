"""The certificate command (kept at its documented name): ``python -m pytest_normfusion.report CERT``
re-renders a certificate, ``... compare OLD NEW`` lists regressions. See ``certificate/__main__.py``."""

import sys

from pytest_normfusion.certificate.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
