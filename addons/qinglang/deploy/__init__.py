"""Running qinglang on a machine: the data directory and first run, backup and restore,
WireGuard keys for phones, config bundles and the scale-out flags of ``qinglang run``."""
