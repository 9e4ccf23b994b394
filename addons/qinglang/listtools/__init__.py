"""Tools for blocklist maintainers: ``qinglang lists lint|import|test|stats`` and
``qinglang scan --flows``. One module per command; ``commands.register`` wires
them into the ``qinglang`` command."""
