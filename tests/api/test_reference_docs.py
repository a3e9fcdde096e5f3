"""docs/api.md is /api/v1/openapi.json rendered (`flask --app app docs api`): it fails here as
soon as an endpoint or a schema changes and the committed reference was not regenerated."""

from __future__ import annotations

from pathlib import Path

from reseller.api.reference import api_reference, render_markdown

ROOT = Path(__file__).resolve().parents[2]
API_MD = ROOT / "docs" / "api.md"


def test_docs_api_md_is_the_openapi_document_rendered_today(app):
    with app.app_context():
        expected = api_reference()
    assert API_MD.read_text(encoding="utf-8") == expected, (
        "docs/api.md is out of date with the OpenAPI document: run "
        "`flask --app app docs api` and commit docs/api.md"
    )


def test_every_operation_and_schema_has_its_section(client):
    document = client.get("/api/v1/openapi.json").json
    text = API_MD.read_text(encoding="utf-8")
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            assert f"\n### {method.upper()} {path}\n\n**{operation['summary']}**\n" in text
    for name in document["components"]["schemas"]:
        assert f"\n### {name}\n" in text


def test_the_reference_states_auth_errors_idempotency_and_the_rate_limit():
    text = API_MD.read_text(encoding="utf-8")
    for needed in (
        "## Authentication",
        "`Authorization: Bearer <key>`",
        '`{"error": {"code", "message", "fields"}}`',
        "`Idempotency-Key`",
        "409 `idempotency_key_reused`",
        "429\n`rate_limited`",
        "`Retry-After`",
        "Any other field is refused (422).",
    ):
        assert needed in text, needed


def test_the_command_writes_the_reference_and_check_refuses_a_stale_one(runner, tmp_path):
    target = tmp_path / "api.md"
    written = runner.invoke(args=["docs", "api", "--output", str(target)])
    assert written.exit_code == 0, written.output
    assert target.read_text(encoding="utf-8") == API_MD.read_text(encoding="utf-8")

    fresh = runner.invoke(args=["docs", "api", "--check", "--output", str(target)])
    assert fresh.exit_code == 0, fresh.output

    target.write_text("stale", encoding="utf-8")
    stale = runner.invoke(args=["docs", "api", "--check", "--output", str(target)])
    assert stale.exit_code == 1
    assert "out of date" in stale.output
    assert target.read_text(encoding="utf-8") == "stale"  # --check writes nothing


def _document(description: str, field_description: str) -> dict:
    return {
        "info": {"description": description},
        "paths": {
            "/api/v1/things": {
                "post": {
                    "summary": "Make a thing",
                    "tags": ["Things"],
                    "parameters": [],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                        },
                    },
                    "responses": {"201": {"description": "Created"}},
                }
            }
        },
        "components": {
            "schemas": {
                "Thing": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["account"],
                    "properties": {
                        "account": {
                            "type": "string",
                            "enum": ["a|b", "c"],
                            "description": field_description,
                        }
                    },
                }
            }
        },
    }


def test_prose_and_values_cannot_break_the_markdown():
    text = render_markdown(
        _document("Send `<api key>` as a <member id>.", 'Either "member:<id>" or a | b')
    )
    assert "Send `<api key>` as a &lt;member id&gt;." in text  # code spans stay as written
    row = next(line for line in text.splitlines() if line.startswith("| `account`"))
    assert row == (
        '| `account` | one of `a\\|b`, `c` | yes | Either "member:&lt;id&gt;" or a \\| b. |'
    )
    assert "- [Make a thing](#post-apiv1things): `POST`" in text
    assert "\n### POST /api/v1/things\n" in text
