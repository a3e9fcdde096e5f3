"""Stylesheets and scripts under URLs that name their content, kept by browsers for a year.

Every page links its stylesheets and scripts: ours under ``/static`` and Bootstrap's under
``/bootstrap/static``. Flask answers them with ``Cache-Control: no-cache``, so each page view
asked for each again (a conditional GET answered 304): four or five more round trips a page,
most felt on a phone. ``url_for`` now adds the file's content hash to a static file's URL
(``?v=…``), and the answer to a URL whose ``v`` is the file's current hash may be kept for a
year, unchanged (``immutable``): a changed file has a new hash, so a new URL. A URL without
``v``, or with a hash the file no longer has, is answered as before (``no-cache``).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.security import safe_join

ONE_YEAR = 365 * 24 * 60 * 60
# A file's hash by its path and what stat tells of it: a file changed in place (a deploy, or
# the development server) is hashed again.
_HASHES: dict[tuple[str, int, int], str] = {}


def register(app: Flask) -> None:
    app.url_defaults(_add_version)
    app.after_request(_keep_versioned)


def _folder(app: Flask, endpoint: str | None) -> str | None:
    """The folder a static endpoint serves (the app's or a blueprint's), else None."""
    if endpoint == "static":
        return app.static_folder
    if endpoint and endpoint.endswith(".static"):
        blueprint = app.blueprints.get(endpoint.removesuffix(".static"))
        return blueprint.static_folder if blueprint is not None else None
    return None


def content_version(folder: str, filename: str) -> str | None:
    """The first 16 hex digits of the file's SHA-256, or None when there is no such file."""
    path = safe_join(folder, filename)
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key = (path, stat.st_mtime_ns, stat.st_size)
    found = _HASHES.get(key)
    if found is None:
        with open(path, "rb") as file:
            found = hashlib.sha256(file.read()).hexdigest()[:16]
        _HASHES[key] = found
    return found


def _add_version(endpoint: str, values: dict[str, Any]) -> None:
    if "filename" not in values or "v" in values:
        return
    folder = _folder(current_app, endpoint)
    if folder is not None and (version := content_version(folder, values["filename"])):
        values["v"] = version


def _keep_versioned(response: Response) -> Response:
    folder = _folder(current_app, request.endpoint)  # a string's comparison for the rest
    if folder is None or response.status_code != 200:
        return response
    version = request.args.get("v")
    if version is None:
        return response
    filename = (request.view_args or {}).get("filename")
    if filename is not None and version == content_version(folder, filename):
        response.cache_control.no_cache = None
        response.cache_control.public = True
        response.cache_control.max_age = ONE_YEAR
        response.cache_control.immutable = True
    return response
