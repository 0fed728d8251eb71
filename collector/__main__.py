"""``python -m collector`` runs the command line."""

import sys

from collector.cli.main import main

sys.exit(main())
