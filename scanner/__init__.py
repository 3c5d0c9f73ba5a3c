"""fringescan: find landslide-candidate fringes in DInSAR interferograms, at national scale."""

__version__ = "0.1.0"
