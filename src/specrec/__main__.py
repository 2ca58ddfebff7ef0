"""`python -m specrec ...` (what torchrun launches) is the `specrec` command."""

from specrec.cli import main

main()
