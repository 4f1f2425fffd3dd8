"""`sitebox validate`: the post-install checks, a pytest suite shipped in the package.

``suite/`` holds the checks as ordinary pytest modules (runnable on their own with
``pytest bootstrap/sitebox/validate/suite --kubeconfig K``); ``runner`` runs them
in-process and turns each test's outcome into a row; ``facts`` holds the pure
judgements the checks make, so they are unit-tested without a cluster.
"""
