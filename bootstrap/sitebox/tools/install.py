"""Installing pinned tools: build what is missing or stale, verify, link."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sitebox.errors import SiteboxError
from sitebox.tools.builder import BuildError, GoRun, go_version
from sitebox.tools.pins import Pin, Pins
from sitebox.tools.recipes import RECIPES, Recipe
from sitebox.tools.store import Build


@dataclass(frozen=True)
class ToolStatus:
    name: str
    version: str
    state: str  # "cached", "built", "missing", "stale", "broken"
    path: str
    detail: str = ""


def _recipe(pin: Pin) -> Recipe:
    try:
        return RECIPES[pin.name]
    except KeyError:
        raise SiteboxError(
            f"no build recipe for tool {pin.name!r}",
            hint=f"known tools: {', '.join(sorted(RECIPES))}; fix distro/tools.yaml",
        ) from None


def reported_versions(pin: Pin, recipe: Recipe, bindir: Path) -> dict[str, str]:
    """Run each binary's version command; raise if one does not report the pin."""
    reported: dict[str, str] = {}
    for name, check in recipe.binaries.items():
        expect = check.expected(pin)
        try:
            result = subprocess.run(
                [str(bindir / name), *check.args],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BuildError(f"{name} ({pin.name} {pin.version}) does not run: {exc}") from None
        text = (result.stdout + result.stderr).strip()
        if expect not in text:
            raise BuildError(
                f"{name} reports {text.splitlines()[0] if text else 'nothing'!r}, "
                f"expected {expect!r}",
                hint="the build was not stamped with its version; "
                "run `sitebox tools install --force`",
            )
        reported[name] = text.splitlines()[0]
    return reported


def status(pin: Pin) -> ToolStatus:
    recipe = _recipe(pin)
    build = Build(pin)
    stamp = build.read_stamp()
    if stamp is None:
        return ToolStatus(pin.name, pin.version, "missing", str(build.bin))
    if stamp.get("fingerprint") != pin.fingerprint(recipe.revision):
        return ToolStatus(
            pin.name, pin.version, "stale", str(build.bin), "built by an older recipe"
        )
    try:
        reported_versions(pin, recipe, build.bin)
    except SiteboxError as exc:
        return ToolStatus(pin.name, pin.version, "broken", str(build.bin), exc.message)
    return ToolStatus(pin.name, pin.version, "cached", str(build.bin))


def check_go(pins: Pins) -> None:
    have = go_version()
    if have is None:
        raise SiteboxError(
            "Go is not installed; sitebox builds its tools from the Go module proxy",
            hint=f"install Go {pins.go} or newer and put `go` on PATH",
        )
    if tuple(map(int, have.split(".")[:2])) < tuple(map(int, pins.go.split(".")[:2])):
        raise SiteboxError(
            f"Go {have} is older than {pins.go}, which the pinned tools need",
            hint=f"install Go {pins.go} or newer",
        )


def install(
    pin: Pin, force: bool = False, on_step: Callable[[str], None] | None = None
) -> ToolStatus:
    """Make the pinned build of one tool present, verified and linked. Idempotent."""
    recipe = _recipe(pin)
    build = Build(pin)
    current = status(pin)
    if current.state == "cached" and not force:
        build.link(tuple(recipe.binaries))
        return current
    build.root.mkdir(parents=True, exist_ok=True)
    build.stamp.unlink(missing_ok=True)
    if on_step:
        on_step(f"building {pin.name} {pin.version} (log: {build.log})")
    with build.log.open("w") as log:
        recipe.build(pin, GoRun(build, log))
    reported = reported_versions(pin, recipe, build.bin)
    build.write_stamp(pin.fingerprint(recipe.revision), reported)
    build.link(tuple(recipe.binaries))
    return ToolStatus(pin.name, pin.version, "built", str(build.bin))
