"""The package version, in one place (read by hatch at build time, imported by the package)."""

__version__ = "0.1.0"
