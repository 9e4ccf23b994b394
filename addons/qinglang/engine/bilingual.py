"""A message for people in both languages, named together where it is raised.

``str()`` is the English (the CLI, logs and users' scripts read it, unchanged); ``zh`` is
what the dashboard's Chinese pages show. Errors raised inside pydantic validators keep
their type, so ``policy.configtext`` finds the Chinese of a config error here.
"""

from __future__ import annotations


class Bilingual(ValueError):
    """A ValueError whose message is given in English and in Chinese."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh

    def __reduce__(self) -> tuple[type[Bilingual], tuple[str, str]]:
        # Both languages survive a pickle (a worker process handing the error back).
        return (Bilingual, (self.en, self.zh))

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en
