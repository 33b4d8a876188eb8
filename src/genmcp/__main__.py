"""`python -m genmcp` runs the command line."""

from genmcp.server.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
