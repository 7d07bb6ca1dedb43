"""`python -m agent_framework_hosting`: the same as the `agent-framework-host` command."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
