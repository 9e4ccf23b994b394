"""Bytes and headers as a browser reads them: media types, charsets, content-encodings, the
plan for a response once its headers are in, and the one scan pipeline (bytes + headers +
profile -> outcome) used by the scan workers, ``qinglang scan``, ``scan --flows`` and the
corpus tools. Uses only the engine."""
