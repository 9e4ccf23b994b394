"""Scanning off the proxy's event loop: the pool of scan worker processes and the protocol
of the jobs sent to them."""
