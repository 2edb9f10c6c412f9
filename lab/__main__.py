"""``python -m lab``: the same as the ``sctplab`` command."""

import sys

from lab.cli import main

sys.exit(main())
