"""CMake options for building llama-cpp-python on this machine: its CPU's features, without AMX.

    CMAKE_ARGS="$(python3 tools/llama_cmake_args.py)" pip install 'ciagent[local]'

llama.cpp's default build (`GGML_NATIVE`, `-march=native`) compiles in its AMX matrix kernels
on CPUs that report AMX, and those kernels crash (SIGSEGV in `ggml_backend_amx_mul_mat`) in
virtual machines that report AMX without giving a process its tile state, as seen on this
project's 2-core development VMs. Listing the CPU's features one by one keeps every other
instruction set native builds use (AVX2, AVX-512, VNNI) and leaves AMX out. Off Linux x86-64
this prints nothing, and llama.cpp's own defaults apply.
"""

from __future__ import annotations

import platform
from pathlib import Path

__all__ = ["cmake_args"]

# /proc/cpuinfo flag -> the ggml options it allows (all must hold for an option to be on).
_OPTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("GGML_SSE42", ("sse4_2",)),
    ("GGML_AVX", ("avx",)),
    ("GGML_AVX2", ("avx2",)),
    ("GGML_FMA", ("fma",)),
    ("GGML_F16C", ("f16c",)),
    ("GGML_BMI2", ("bmi2",)),
    ("GGML_AVX_VNNI", ("avx_vnni",)),
    ("GGML_AVX512", ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw")),
    ("GGML_AVX512_VBMI", ("avx512vbmi",)),
    ("GGML_AVX512_VNNI", ("avx512_vnni",)),
    ("GGML_AVX512_BF16", ("avx512_bf16",)),
)


def cmake_args(cpuinfo: str) -> str:
    """The CMake options for a CPU described by `cpuinfo` (the text of /proc/cpuinfo)."""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    if not flags:
        return ""
    options = ["-DGGML_NATIVE=OFF"]
    for option, needs in _OPTIONS:
        options.append(f"-D{option}={'ON' if flags.issuperset(needs) else 'OFF'}")
    options += ["-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF"]
    return " ".join(options)


def main() -> None:
    cpuinfo = Path("/proc/cpuinfo")
    if platform.system() == "Linux" and platform.machine() == "x86_64" and cpuinfo.exists():
        print(cmake_args(cpuinfo.read_text(encoding="utf-8", errors="replace")))
    else:
        print("")


if __name__ == "__main__":
    main()
