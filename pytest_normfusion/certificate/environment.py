"""What a certificate records of the machine: host, device, driver, CUDA and library versions.

Everything is best effort: what cannot be read is None, never an error.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import socket
import subprocess
from typing import Any

# Distributions whose versions a certificate records; absent ones are None.
LIBRARIES = (
    "torch",
    "triton",
    "flashinfer-python",
    "numpy",
    "pytest",
    "pytest-xdist",
    "hypothesis",
    "liger-kernel",
    "transformers",
    "pytest-normfusion",
)


def library_versions() -> dict[str, str | None]:
    """Installed version of each of LIBRARIES, None when not installed."""
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def nvidia_smi_driver() -> str | None:
    """The NVIDIA driver release (e.g. 570.124.06), from nvidia-smi when it is on PATH."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.strip().splitlines()
    return lines[0].strip() if lines else None


def _cuda_driver_api() -> str | None:
    """The CUDA version the driver supports (e.g. 12.8); private in torch, absent in CPU builds."""
    import torch

    get = getattr(torch._C, "_cuda_getDriverVersion", None)
    if get is None:
        return None
    try:
        value = int(get())
    except RuntimeError:
        return None
    return f"{value // 1000}.{value % 1000 // 10}" if value else None


def device_info(device: str) -> dict[str, Any]:
    """The device cases ran on; for CUDA its name, count and compute capability."""
    import torch

    if device != "cuda":
        return {"type": "cpu", "name": platform.processor() or platform.machine(), "count": 1, "capability": None}
    major, minor = torch.cuda.get_device_capability()
    return {
        "type": "cuda",
        "name": torch.cuda.get_device_name(),
        "count": torch.cuda.device_count(),
        "capability": f"{major}.{minor}",
    }


def describe(device: str) -> dict[str, Any]:
    """The certificate's ``environment`` block."""
    import torch

    cuda = device == "cuda"
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "device": device_info(device),
        "driver": nvidia_smi_driver() if cuda else None,
        "cuda_driver_api": _cuda_driver_api() if cuda else None,
        "cuda_runtime": torch.version.cuda,
        "versions": library_versions(),
    }


def flat(device: str) -> dict[str, Any]:
    """The same description in the flat form benchmark files carry (``describe`` is the one source)."""
    env = describe(device)
    versions = env["versions"]
    dev = env["device"]
    return {
        "torch": versions["torch"],
        "cuda_runtime": env["cuda_runtime"],
        "python": env["python"],
        "triton": versions["triton"],
        "flashinfer": versions["flashinfer-python"],
        "liger": versions["liger-kernel"],
        "device": dev["name"] if dev["type"] == "cuda" else "cpu",
        "capability": dev["capability"],
        "device_count": dev["count"],
        "driver": env["driver"],
    }
