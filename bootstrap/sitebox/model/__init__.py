"""The site model: distribution, profile and site config, loaded and checked."""
