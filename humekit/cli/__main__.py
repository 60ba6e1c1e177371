"""``python -m humekit.cli``: the same as the ``humekit`` command."""

import sys

from humekit.cli.main import main

sys.exit(main())
