"""``python -m qinglang.cli``: the ``qinglang`` command."""

import sys

from qinglang.cli.main import main

sys.exit(main())
