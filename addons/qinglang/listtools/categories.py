"""Category names from other projects' lists, turned into qinglang's."""

from __future__ import annotations

import re

# The obvious counterparts of e2guardian's ``#listcategory`` names and UT1's
# folder names among qinglang's shipped categories. Anything else keeps its own
# (slugged) name; ``--category`` always wins.
ALIASES = {
    "pornography": "porn",
    "adult": "porn",
    "porn": "porn",
    "gambling": "gambling",
    "gamble": "gambling",
    "drugs": "drugs",
    "illegal_drugs": "drugs",
    "illegaldrugs": "drugs",
    "drug_advocacy": "drugs",
    "drugadvocacy": "drugs",
    "violence": "violence",
    "gore": "violence",
    "weapons": "violence",
    "self_harm": "self_harm",
    "selfharm": "self_harm",
    "suicide": "self_harm",
}


def slug(name: str) -> str:
    """``Pornography (Chinese)`` -> ``pornography``; ``Illegal drugs`` -> ``illegal_drugs``."""
    s = re.sub(r"\(.*?\)", " ", name).strip().lower()
    s = re.sub(r"[^a-z0-9_-]+", "_", s).strip("_-")
    return s


def qinglang_category(name: str) -> str | None:
    """The qinglang category for a foreign category name; None if nothing is left of it."""
    s = slug(name)
    if not s:
        return None
    return ALIASES.get(s, s)
