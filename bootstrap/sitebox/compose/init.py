"""`sitebox init`: a commented site.yaml for a profile."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from sitebox.config import load_yaml_text, validate
from sitebox.errors import SiteboxError
from sitebox.model import distro, profiles
from sitebox.model.schemas import schema


def site_yaml(name: str, profile: str) -> str:
    profiles.load(profile)  # an unknown profile fails here, with the known ones listed
    template = resources.files("sitebox.compose").joinpath("templates/site.yaml.tmpl").read_text()
    text = template.format(
        name=name,
        profile=profile,
        distribution=distro.load().version,
        auth="dummy" if profile == "demo" else "oidc",
    )
    if profile != "demo":
        # oidc needs its section: leave it uncommented with placeholders to fill in.
        text = text.replace("  # oidc:\n  #   provider: cilogon\n  #   issuer: https://cilogon.org\n"
                            "  #   clientId: cilogon:/client_id/0123456789\n"
                            "  #   clientSecretEnv: SITEBOX_OIDC_CLIENT_SECRET",
                            "  oidc:\n    provider: cilogon\n    issuer: https://cilogon.org\n"
                            "    clientId: cilogon:/client_id/0123456789\n"
                            "    clientSecretEnv: SITEBOX_OIDC_CLIENT_SECRET")  # fmt: skip
    # What init writes must itself be valid: check it before anything is written.
    validate(load_yaml_text(text, "site.yaml"), schema("site"), what="generated site.yaml")
    return text


def write(path: Path, name: str, profile: str, force: bool) -> None:
    if path.exists() and not force:
        raise SiteboxError(
            f"{path} exists", hint="edit it, choose another --output, or pass --force to replace it"
        )
    path.write_text(site_yaml(name, profile))
