"""`python -m stui`: the same as the `stui` command."""

from stui.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
