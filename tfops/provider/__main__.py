"""`python -m tfops.provider` serves the provider, which is how Terraform runs it.

`python -m tfops.provider install-mirror DIR` installs a mirror and prints the path of its
CLI config, for TF_CLI_CONFIG_FILE.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["install-mirror"]:
        from tfops.provider.mirror import install_mirror

        parser = argparse.ArgumentParser(
            prog="python -m tfops.provider install-mirror",
            description="Install the localfile provider into a filesystem mirror and print "
            "the path of a Terraform CLI config that uses it.",
        )
        parser.add_argument("directory", type=Path)
        parser.add_argument(
            "--python",
            default=sys.executable,
            help="interpreter the provider runs with (default: this one)",
        )
        opts = parser.parse_args(args[1:])
        print(install_mirror(opts.directory, opts.python))
        return 0

    # argparse would reject go-plugin's or tf's own flags (e.g. --dev), so pass them through.
    from tfops.provider.localfile import serve

    serve([sys.argv[0], *args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
