"""``python -m surestep`` runs the command line."""

from surestep.cli.main import main

main()
