"""Local clusters: the sim driver (real control plane, kwok nodes) and kind/minikube."""
