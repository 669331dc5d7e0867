"""The llama-cpp-python build options the Makefile passes (tools/llama_cmake_args.py)."""

from __future__ import annotations

from tools.llama_cmake_args import cmake_args

SAPPHIRE_RAPIDS = (
    "processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma f16c bmi2 avx_vnni avx512f avx512cd "
    "avx512vl avx512dq avx512bw avx512vbmi avx512_vnni avx512_bf16 amx_tile amx_int8 amx_bf16\n"
)


def test_a_cpu_with_amx_builds_with_its_other_features_and_without_amx() -> None:
    options = cmake_args(SAPPHIRE_RAPIDS).split()
    assert "-DGGML_NATIVE=OFF" in options  # -march=native would compile the AMX kernels in
    assert {"-DGGML_AVX2=ON", "-DGGML_AVX512=ON", "-DGGML_AVX512_VNNI=ON"} <= set(options)
    assert {"-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF"} <= set(options)


def test_features_the_cpu_lacks_stay_off() -> None:
    options = cmake_args("flags\t: sse4_2 avx avx2 fma f16c\n").split()
    assert "-DGGML_AVX2=ON" in options
    assert "-DGGML_AVX512=OFF" in options
    assert "-DGGML_BMI2=OFF" in options
    assert cmake_args("processor\t: 0\n") == ""  # no flags line: llama.cpp's own defaults
