"""sitebox: a site-in-a-box distribution for scientific computing on Kubernetes."""

__version__ = "0.1.0"
