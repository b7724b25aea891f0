"""Helpers for the providers whose material lives in its own folder of ../shared/esp
(MailerSend, Postal, Mailtrap, Scaleway, Unisender Go): REFERENCE.md, samples/, vectors.json."""
from __future__ import annotations

import ast
import json
import os
from pathlib import Path

from store import CredentialSet
from tests.conftest import shared
from tests.webhook.esp.conftest import make_request
from webhook.esp.base import Context, Rejected


def folder(provider: str) -> Path:
    """The provider's folder; the module is skipped, saying why, when ../shared is absent."""
    return shared("esp", provider)


class Material:
    def __init__(self, provider: str):
        self.dir = folder(provider)

    def sample(self, name: str) -> bytes:
        return (self.dir / "samples" / name).read_bytes()

    def sample_json(self, name: str):
        return json.loads(self.sample(name))

    def named_in(self, test_module: str) -> set[str]:
        """The samples a test module names (its string literals that are sample paths). Read
        from the source, not counted as the tests run: under pytest-xdist the tests that send
        them may run in another worker process, whose counts this one never sees."""
        tree = ast.parse(Path(test_module).read_text(encoding="utf-8"))
        names = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
        return names & self.samples()

    def samples(self) -> set[str]:
        root = self.dir / "samples"
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}

    def vectors(self) -> dict:
        return json.loads((self.dir / "vectors.json").read_text())

    def body(self, vector: dict) -> bytes:
        if "body_file" in vector:
            raw = (self.dir / vector["body_file"]).read_bytes()
            assert raw == vector["body"].encode("utf-8"), vector["id"]
            return raw
        return vector["body"].encode("utf-8")


def authentic(cls, credentials: dict, body: bytes, headers: dict, now: float, *, tolerance: int = 300,
              mimetype: str = "application/json", certificates=None) -> bool:
    """Whether the provider's own validate_request accepts the request (False on a refusal)."""
    handler = cls(Context("t", CredentialSet("t", cls.name, credentials), tolerance=tolerance,
                          sns_certificates=certificates))
    try:
        handler.validate_request(make_request(body, headers, now, mimetype))
    except Rejected as r:
        if r.status == 401 and r.error == "unauthorized":
            return False
        raise
    return True


def names(paths) -> list[str]:
    return sorted(os.path.basename(p) for p in paths)
