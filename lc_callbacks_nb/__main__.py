"""``python -m lc_callbacks_nb enable|disable|status [--user | --sys-prefix] [--profile NAME]``.

``python -m lc_callbacks_nb --version`` prints the installed version.

``enable`` makes new kernels load the extension (see ``notebook/autoload.py``) by adding a
startup file of its own; no list of extensions anywhere is changed. The default location is
``--sys-prefix`` (``{sys.prefix}/etc/ipython/startup``): kernels of this environment only.
``--user`` uses the IPython profile folder (``$IPYTHONDIR/profile_<NAME>/startup``), run by
every kernel this user starts; in an environment without the package the file does nothing.
``status`` says what a new kernel will load, and why when something replaces a list.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .notebook import autoload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lc_callbacks_nb",
        description="Load lc_callbacks_nb in every new IPython kernel (opt-in), or stop that.",
    )
    parser.add_argument("--version", action="version", version=f"lc_callbacks_nb {__version__}")
    parser.add_argument("command", choices=["enable", "disable", "status"])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="the IPython profile folder")
    where.add_argument(
        "--sys-prefix", action="store_true", help="{sys.prefix}/etc/ipython (default)"
    )
    parser.add_argument("--profile", default="default", help="IPython profile")
    args = parser.parse_args(argv)

    try:
        if args.command == "status":
            print(autoload.status(args.profile))
            return 0
        directory = autoload.user_dir(args.profile) if args.user else autoload.sys_prefix_dir()
        action = autoload.enable if args.command == "enable" else autoload.disable
        print(action(directory))
        print(autoload.verdict(autoload.report(args.profile)))
    except (autoload.AutoloadError, OSError) as exc:
        print(f"lc_callbacks_nb: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
