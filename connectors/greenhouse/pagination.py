"""Follow ``Link: <...>; rel="next"`` until there is none.

Harvest docs ("Pagination"): list endpoints answer a bare JSON array and an RFC 5988 ``Link``
header; clients must follow the URLs given and never build page numbers, because newer
endpoints only give ``next``. Harvest v3 (``/docs/pagination``) returns only ``next``, whose URL
carries an opaque ``cursor`` that must be the only query parameter, so the next URL is requested
exactly as given, with no parameters added. One paginator serves both.

A server that hands out a URL it has already given would loop forever; the paginator stops there
and logs ``pagination.loop_stopped`` (with the path template, never the URL: filters can hold
e-mail addresses).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests

from config.logs import get_logger

log = get_logger("connectors.greenhouse.pagination")

Fetch = Callable[[str, Mapping[str, Any] | None], requests.Response]


def parse_link_header(value: str | None) -> dict[str, str]:
    """``rel`` → URL for every link in an RFC 5988 ``Link`` header value.

    URLs may contain commas and parameters may be quoted strings containing commas or
    semicolons, so the value is scanned rather than split. Relation names are compared
    case-insensitively and a ``rel`` may list several (``rel="next last"``). The first link
    for a relation wins; text that is not a link is skipped.
    """
    links: dict[str, str] = {}
    text = value or ""
    position = 0
    while True:
        start = text.find("<", position)
        if start < 0:
            return links
        end = text.find(">", start + 1)
        if end < 0:
            return links
        url = text[start + 1 : end].strip()
        params, position = _link_params(text, end + 1)
        for rel in params.get("rel", "").split():
            links.setdefault(rel.lower(), url)


def _link_params(text: str, position: int) -> tuple[dict[str, str], int]:
    """The ``; key=value`` parameters after a ``<url>``, up to the ``,`` ending the link."""
    params: dict[str, str] = {}
    length = len(text)
    while position < length:
        while position < length and text[position] in " \t":
            position += 1
        if position >= length or text[position] == ",":
            return params, position + 1
        if text[position] != ";":
            # Not a parameter: skip to the next link.
            next_comma = text.find(",", position)
            return params, length if next_comma < 0 else next_comma + 1
        position += 1
        key_end = position
        while key_end < length and text[key_end] not in "=;,":
            key_end += 1
        key = text[position:key_end].strip().lower()
        position = key_end
        value = ""
        if position < length and text[position] == "=":
            position += 1
            while position < length and text[position] in " \t":
                position += 1
            if position < length and text[position] == '"':
                closing = text.find('"', position + 1)
                closing = length if closing < 0 else closing
                value = text[position + 1 : closing]
                position = closing + 1
            else:
                value_end = position
                while value_end < length and text[value_end] not in ";,":
                    value_end += 1
                value = text[position:value_end].strip()
                position = value_end
        if key:
            params.setdefault(key, value)
    return params, position


def next_link(response: requests.Response) -> str | None:
    return parse_link_header(response.headers.get("Link")).get("next") or None


class LinkPaginator:
    """Iterate the items of every page of one list endpoint.

    ``fetch(path_or_url, params)`` sends one GET and returns the 2xx response; the first page is
    ``fetch(path, params)``, every next page ``fetch(next_url, None)``. ``items`` pulls the list
    out of a page body (Harvest's are bare arrays).
    """

    def __init__(
        self,
        fetch: Fetch,
        *,
        path_template: str,
        items: Callable[[Any], list[Any]] | None = None,
        max_pages: int = 10_000,
    ) -> None:
        self.fetch = fetch
        self.path_template = path_template
        self.items = items or _bare_array
        self.max_pages = max_pages
        self.pages = 0

    def pages_of(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[list[Any]]:
        seen: set[str] = set()
        response = self.fetch(path, params)
        self.pages = 1
        while True:
            yield self.items(response.json())
            url = next_link(response)
            if url is None:
                return
            if url in seen or url == response.url:
                log.warning("pagination.loop_stopped", path=self.path_template, pages=self.pages)
                return
            if self.pages >= self.max_pages:
                log.warning("pagination.max_pages", path=self.path_template, pages=self.pages)
                return
            seen.add(url)
            response = self.fetch(url, None)
            self.pages += 1

    def __call__(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        for page in self.pages_of(path, params):
            yield from page


def _bare_array(body: Any) -> list[Any]:
    if isinstance(body, list):
        return body
    # Tolerate an envelope in case a v3 endpoint wraps its list.
    if isinstance(body, Mapping):
        for key in ("data", "results", "items"):
            if isinstance(body.get(key), list):
                return list(body[key])
    return []
