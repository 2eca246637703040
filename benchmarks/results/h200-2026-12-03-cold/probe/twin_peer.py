"""The shipped candidates again under other names: a perf check of a kernel against itself."""
from pytest_normfusion.impls.torch_compile import TorchCompile
from pytest_normfusion.impls.triton import Triton


class Twin(Triton):
    name = "triton-twin"


class CompileTwin(TorchCompile):
    name = "torch-compile-twin"
