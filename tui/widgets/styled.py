"""A widget base whose component styles are resolved once and dropped when styles change."""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget


class CachedStylesWidget(Widget):
    """``component_style(name)`` caches ``get_component_rich_style`` (resolving one costs more
    than a whole render of a small panel); a theme or CSS change clears the cache."""

    def component_style(self, name: str) -> Style:
        """The rich style of component class ``name``, cached."""
        cache = self.__dict__.setdefault("_component_style_cache", {})
        if name not in cache:
            cache[name] = self.get_component_rich_style(name)
        return cache[name]

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.__dict__.pop("_component_style_cache", None)
