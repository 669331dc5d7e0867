"""Versioned prompt templates, shipped inside the wheel (`ciagent/prompts/*.toml`).

Each template has a `name`, a `version` (part of every cache key and of the provenance), a `system`
text, optional worked `examples` (few-shot chat turns) and a `user` text with `$placeholders`
(string.Template, so JSON braces need no escaping).
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from string import Template

from pydantic import BaseModel, ConfigDict

from ciagent.errors import ConfigError

__all__ = ["Example", "Prompt", "load_prompt", "prompts_dir"]


class Example(BaseModel):
    """A worked exchange shown before the real request (few-shot), as chat turns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str
    assistant: str


class Prompt(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    system: str
    examples: tuple[Example, ...] = ()
    user: str

    @property
    def ref(self) -> str:
        """`name@version`, as recorded in provenance."""
        return f"{self.name}@{self.version}"

    def messages(self, **values: str) -> list[dict[str, str]]:
        """The chat messages with the placeholders filled; a missing value is an error."""
        try:
            system = Template(self.system).substitute(values)
            user = Template(self.user).substitute(values)
        except KeyError as exc:
            raise ConfigError(f"prompt {self.ref}", f"no value for ${exc.args[0]}") from None
        messages = [{"role": "system", "content": system}]
        for example in self.examples:
            messages.append({"role": "user", "content": example.user})
            messages.append({"role": "assistant", "content": example.assistant})
        messages.append({"role": "user", "content": user})
        return messages


def prompts_dir() -> Path:
    """The folder of templates: inside the installed package, or `prompts/` of a source checkout."""
    packaged = resources.files("ciagent") / "prompts"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "prompts"
    if checkout.is_dir():
        return checkout
    raise ConfigError("prompts", "prompt templates not found; reinstall ciagent")


@lru_cache(maxsize=32)
def load_prompt(name: str, folder: Path | None = None) -> Prompt:
    path = (folder or prompts_dir()) / f"{name}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "prompt template not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"invalid TOML: {exc}") from None
    try:
        return Prompt.model_validate(data)
    except ValueError as exc:
        raise ConfigError(str(path), f"invalid prompt template: {exc}") from None
