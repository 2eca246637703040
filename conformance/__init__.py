"""The conformance suite; the plugin collects it from wherever the package is installed."""
