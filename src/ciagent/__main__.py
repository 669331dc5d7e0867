"""`python -m ciagent`, the same as the `ciagent` command."""

from ciagent.cli import main

main()
