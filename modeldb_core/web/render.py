"""Server-side pages: Jinja2 with autoescaping on, links relative to the mount point."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from modeldb_core.extras import require

require("jinja2", "ui", "the web UI")  # a missing extra is named
require("fastapi", "ui", "the web UI")  # a missing extra is named
import jinja2
from markupsafe import Markup
from fastapi import Request
from fastapi.responses import HTMLResponse

from modeldb_core import __version__

from . import encode

HERE = Path(__file__).parent


def _json_for_script(value: Any) -> str:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' left raw."""
    text = json.dumps(encode.jsonable(value), ensure_ascii=False, allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def query_string(params: dict[str, Any], **changes: Any) -> str:
    """``?a=1&b=2`` from the current state with ``changes`` (None drops a key)."""
    merged = {**params, **changes}
    items = []
    for key, value in merged.items():
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, (list, tuple)):
            items += [(key, v) for v in value]
        else:
            items.append((key, value))
    return ("?" + urlencode(items)) if items else "?"


class Renderer:
    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(HERE / "templates")),
            autoescape=True,  # every value shown is escaped, whatever the template
            trim_blocks=True, lstrip_blocks=True,
        )
        from modeldb_core.models_view import artifact_name, version_label

        self.env.filters.update(when=encode.when, duration=encode.duration, show=encode.show,
                                version_label=version_label, artifact_name=artifact_name,
                                short=encode.short, breakable=encode.breakable, count=encode.count,
                                inline_code=encode.inline_code,
                                script_json=lambda v: Markup(_json_for_script(v)))
        from .projects import goal

        self.env.globals.update(version=__version__, query_string=query_string, goal=goal)

    def page(self, request: Request, template: str, context: dict[str, Any],
             status_code: int = 200) -> HTMLResponse:
        base = request.scope.get("root_path", "").rstrip("/")
        html = self.env.get_template(template).render(base=base, **context)
        return HTMLResponse(html, status_code=status_code)
