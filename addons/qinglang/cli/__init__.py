"""The ``qinglang`` command: one module per group of subcommands (``main`` builds the
parser)."""
