"""The engine: keyword lists, normalisation, matching, scoring, masking and the personal-data
detectors. Text in, decision out; no mitmproxy, and no file reads after the lists are loaded.
Nothing here imports another layer of qinglang."""
