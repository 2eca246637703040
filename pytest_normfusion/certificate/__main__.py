"""``python -m pytest_normfusion.certificate CERT`` re-renders a certificate's Markdown (and plot);
``... compare OLD NEW`` lists regressions (also as ``python -m pytest_normfusion.report``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_normfusion.certificate import markdown, regressions
from pytest_normfusion.certificate.document import CertificateError, load


def main(argv: list[str] | None = None) -> int:
    """``CERT`` re-renders; ``compare OLD NEW`` exits 1 on regressions."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["compare"]:
        return regressions.main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m pytest_normfusion.report",
        description="Render a certificate's Markdown (and a plot, with matplotlib) from its JSON. "
        "Use 'compare OLD NEW' to list regressions.",
    )
    parser.add_argument("certificate", type=Path)
    parser.add_argument("--no-plot", action="store_true", help="do not write the .png even if matplotlib is installed")
    args = parser.parse_args(argv)
    try:
        doc = load(args.certificate)
    except CertificateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {markdown.write_markdown(doc, args.certificate)}")
    if not args.no_plot:
        png = args.certificate.with_suffix(".png")
        print(
            f"wrote {png}"
            if markdown.plot(doc, png)
            else "no plot: matplotlib is not installed (pip install 'pytest-normfusion[report]')"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
