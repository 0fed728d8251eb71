"""``python -m collector`` runs the command line."""

import sys

from collector.cli import main

sys.exit(main())
