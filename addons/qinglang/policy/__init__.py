"""Rules and decisions over plain data: the configuration and its profiles, presets, time
rules and quota, URL and domain rules, safe search, clients, host names, and the order of
the request checks. No flows are touched here; ``proxy/`` acts on what this decides."""
