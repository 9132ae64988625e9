"""`python -m ragft ...`: the `ragft` command."""

import sys

from ragft.cli import main

sys.exit(main())
