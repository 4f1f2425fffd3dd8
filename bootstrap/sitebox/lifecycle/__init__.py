"""The site lifecycle on a cluster: install, upgrade, status, rollback, uninstall."""
