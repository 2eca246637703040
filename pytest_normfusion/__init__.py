"""pytest-normfusion: certify RMSNorm-family kernels and fusion passes."""

__version__ = "0.1.0"
