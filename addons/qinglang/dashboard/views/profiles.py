"""The profile editor: show, save, create and delete a profile in the config file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from qinglang.dashboard import configedit, profilehelp
from qinglang.dashboard.views.configfile import write_config
from qinglang.dashboard.web import dash_of, lang_of, posted, render, signed_in
from qinglang.pages.i18n import translator
from qinglang.policy.config import Config

# Profile fields the form edits, and how: the rest of a profile is left as written.
BOOL_FIELDS = ("filter", "mask")
LIST_FIELDS = ("always_allowed", "allow_domains", "deny_domains", "deny_urls")
YAML_FIELDS = ("daily_minutes", "curfew")


def _profile_fields(cfg: Config, name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The form's values for profile ``name``: as written in the file where it is."""
    p = cfg.profiles[name]
    return {
        "filter": p.filter,
        "mask": p.mask,
        "block_threshold": p.block_threshold,
        "pii": p.pii,
        "categories": ", ".join(p.categories) if p.categories is not None else "",
        "age": "" if p.age is None else str(p.age),
        "daily_minutes": configedit.inline(raw.get("daily_minutes")),
        "curfew": configedit.inline(raw.get("curfew")),
        "safe_search": "" if p.safe_search is None else ("on" if p.safe_search else "off"),
        **{k: "\n".join(raw.get(k) or []) for k in LIST_FIELDS},
    }


def _changes(form: FormData, t: Callable[..., str]) -> dict[str, Any]:
    """Form -> profile keys (None: remove the key so the default applies)."""
    out: dict[str, Any] = {}
    for k in BOOL_FIELDS:
        out[k] = form.get(k) == "on"
    text = str(form.get("block_threshold", "")).strip()
    out["block_threshold"] = _int(text, t("f.block_threshold")) if text else None
    out["pii"] = str(form.get("pii", "mask"))
    cats = [c.strip() for c in str(form.get("categories", "")).split(",") if c.strip()]
    out["categories"] = cats or None
    # An age preset button: that age, the rest of the form as it is.
    age = str(form.get("age_preset") or form.get("age", "")).strip()
    out["age"] = _int(age, t("f.age")) if age else None
    for k in YAML_FIELDS:
        out[k] = configedit.parse_inline(str(form.get(k, "")), t(f"f.{k}"))
    ss = str(form.get("safe_search", ""))
    out["safe_search"] = {"on": True, "off": False}.get(ss)
    for k in LIST_FIELDS:
        lines = [x.strip() for x in str(form.get(k, "")).splitlines() if x.strip()]
        out[k] = lines or None
    return out


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise configedit.EditError(
            f"{what}: not a whole number: {text!r}", f"{what}：应为整数：{text!r}"
        ) from None


def _raw_profiles(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    from ruamel.yaml import YAML

    try:
        data = YAML(typ="safe").load(configedit.read(path)) or {}
    except Exception:
        return {}
    profiles = data.get("profiles") if isinstance(data, dict) else None
    return profiles if isinstance(profiles, dict) else {}


@signed_in
async def profiles_page(request: Request, user: str) -> Response:
    dash = dash_of(request)
    cfg = dash.config.get()
    name = request.path_params.get("name") or next(iter(cfg.profiles))
    return await _profile_form(request, cfg, name, None, None)


async def _profile_form(
    request: Request,
    cfg: Config,
    name: str,
    error: str | None,
    values: dict[str, Any] | None,
    status: int = 200,
) -> Response:
    dash = dash_of(request)
    if name not in cfg.profiles:
        return await render(request, "message.html", {"message": "404"}, status=404)
    path = dash.s.config_path
    raw = (_raw_profiles(path).get(name) or {}) if path else {}
    text = configedit.read(path) if path else ""
    return await render(
        request,
        "profiles.html",
        {
            "profiles": list(cfg.profiles),
            "name": name,
            # After a rejected edit, what was typed, over the values in force.
            "v": {**_profile_fields(cfg, name, raw), **(values or {})},
            "error": error,
            "saved": request.query_params.get("saved"),
            "editable": path is not None,
            "digest": configedit.digest(text),
            "default_profile": cfg.default_profile,
            "in_force": profilehelp.in_force(cfg.profiles[name], lang_of(request)),
            "presets": [
                (
                    a,
                    profilehelp.preset_label(a, lang_of(request)),
                    profilehelp.preset_summary(a, lang_of(request)),
                )
                for a in profilehelp.AGE_PRESETS
            ],
        },
        status=status,
    )


@posted
async def profile_save(request: Request, user: str, form: FormData) -> Response:
    dash = dash_of(request)
    name = request.path_params["name"]
    t = translator(lang_of(request))
    cfg = dash.config.get()
    try:
        changes = _changes(form, t)
        await run_in_threadpool(
            write_config, dash, request, user,
            lambda text, path: configedit.edit_profile(text, path, name, changes),
            str(form.get("digest", "")), f"profile {name}",
        )  # fmt: skip
    except configedit.EditError as e:
        values: dict[str, Any] = {k: form.get(k, "") for k in form}
        for k in BOOL_FIELDS:
            values[k] = form.get(k) == "on"
        return await _profile_form(request, cfg, name, e.text(lang_of(request)), values, status=400)
    return RedirectResponse(f"/profiles/{name}?saved=1", status_code=303)


@posted
async def profile_create(request: Request, user: str, form: FormData) -> Response:
    dash = dash_of(request)
    name = str(form.get("name", "")).strip()
    cfg = dash.config.get()
    try:
        await run_in_threadpool(
            write_config, dash, request, user,
            lambda text, path: configedit.edit_profile(text, path, name, {}, create=True),
            str(form.get("digest", "")), f"profile {name} created",
        )  # fmt: skip
    except configedit.EditError as e:
        first = next(iter(cfg.profiles))
        return await _profile_form(request, cfg, first, e.text(lang_of(request)), None, status=400)
    return RedirectResponse(f"/profiles/{name}?saved=1", status_code=303)


@posted
async def profile_delete(request: Request, user: str, form: FormData) -> Response:
    dash = dash_of(request)
    name = request.path_params["name"]
    cfg = dash.config.get()
    try:
        await run_in_threadpool(
            write_config, dash, request, user,
            lambda text, path: configedit.delete_profile(text, path, name),
            str(form.get("digest", "")), f"profile {name} deleted",
        )  # fmt: skip
    except configedit.EditError as e:
        return await _profile_form(request, cfg, name, e.text(lang_of(request)), None, status=400)
    return RedirectResponse("/profiles", status_code=303)
