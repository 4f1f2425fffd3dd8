"""``sitebox preflight``: whether a cluster can take a site, checked before install.

Facts are gathered from the cluster once (:func:`checks.gather`); each check is a
function of the site and those facts, so the checks are tested without a cluster.
"""
