"""The parents' and schools' dashboard (issue 7): a Starlette app the proxy serves on its
own listener. ``create_app(settings)`` builds it; docs/dashboard.md is the user's guide."""
