"""The body cap's wrap is installed only on the mitmproxy layer it was written for."""

from __future__ import annotations

import pytest
from mitmproxy.proxy.layers.http import HttpStream

from qinglang.proxy import bodycap
from qinglang.proxy.filtering import Qinglang


def _copy(**changes: object) -> type:
    """A subclass of mitmproxy's HttpStream with some methods replaced."""
    return type("Stream", (HttpStream,), {"check_body_size": HttpStream.check_body_size, **changes})


def test_the_installed_mitmproxy_is_supported() -> None:
    assert callable(bodycap.check_layer())  # raises UnsupportedMitmproxy otherwise


@pytest.mark.parametrize("ver", ["10.4.2", "13.0.0", "dev"])
def test_other_mitmproxy_releases_are_refused(ver: str) -> None:
    with pytest.raises(bodycap.UnsupportedMitmproxy, match="written for mitmproxy 11 and 12"):
        bodycap.check_layer(_copy(), ver)


def test_a_changed_layer_is_refused() -> None:
    def check_body_size(self: HttpStream, request: bool, extra: int) -> object:
        yield from ()
        return False

    with pytest.raises(bodycap.UnsupportedMitmproxy, match="takes"):
        bodycap.check_layer(_copy(check_body_size=check_body_size), "11.0.2")

    def plain(self: HttpStream, request: bool) -> bool:
        return False

    with pytest.raises(bodycap.UnsupportedMitmproxy, match="gone or changed"):
        bodycap.check_layer(_copy(check_body_size=plain), "11.0.2")

    def state_consume_response_body(self: HttpStream, event: object) -> object:
        yield from ()  # buffers without checking its size

    with pytest.raises(bodycap.UnsupportedMitmproxy, match="no longer checks"):
        bodycap.check_layer(
            _copy(state_consume_response_body=state_consume_response_body), "11.0.2"
        )


def test_install_wraps_once() -> None:
    cls = _copy()
    bodycap.install(cls)
    wrapped = cls.__dict__["check_body_size"]
    assert getattr(wrapped, "_qinglang_body_cap", False)
    bodycap.install(cls)
    assert cls.__dict__["check_body_size"] is wrapped


def test_the_addon_refuses_to_load_where_it_cannot_bound_bodies(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unsupported(cls: type = HttpStream) -> None:
        raise bodycap.UnsupportedMitmproxy("written for mitmproxy 11 and 12, running 13.0.0")

    monkeypatch.setattr(bodycap, "install", unsupported)
    addon = bodycap.BodyCap(Qinglang())
    with pytest.raises(bodycap.UnsupportedMitmproxy):
        addon.load(None)  # type: ignore[arg-type]
    assert "refusing to start" in caplog.text
