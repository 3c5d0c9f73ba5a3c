"""fringescan: find landslide-candidate fringes in DInSAR interferograms, at national scale."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fringescan")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
