"""Roll the whole site back: both releases to a pair of revisions recorded together.

Rolling one release back alone can leave a site whose two halves never ran together
(the site release of one distribution on the system release of the next). sitebox
moves both to a site revision it recorded (lifecycle.history), under the operation
lease, or refuses with the reason before anything moves.
"""

from __future__ import annotations

from collections.abc import Callable

from sitebox.compose.render import RELEASES
from sitebox.errors import SiteboxError
from sitebox.helm import Helm, HelmError
from sitebox.kube import Kube
from sitebox.lifecycle import history, lock

Say = Callable[[str], None]


def _now(helm: Helm) -> dict[str, int]:
    """The releases' current revisions; refused unless both are installed and settled."""
    found = helm.read((name, namespace) for _, name, namespace in RELEASES)
    revisions = {}
    for name, state in found.items():
        if state is None:
            raise SiteboxError(
                f"release {name} is not installed: there is no site to roll back",
                hint="`sitebox status` shows what is there; `sitebox install` installs the site",
            )
        if state.revision.status != "deployed":
            raise SiteboxError(
                f"release {name} is {state.revision.status} at revision "
                f"{state.revision.revision}: an install is at work or was interrupted",
                hint="wait for it, or run `sitebox install` again to finish what was "
                "interrupted; then roll back",
            )
        revisions[name] = state.revision.revision
    return revisions


def target(entries: list[history.Entry], now: dict[str, int], to: int | None) -> history.Entry:
    """The site revision to go back to: ``to``, else the one before the current."""
    if not entries:
        raise SiteboxError(
            "sitebox has no record of this site's revisions (installed by an earlier sitebox, "
            "or with plain helm); nothing was changed",
            hint="run `sitebox install` once to record the current revision; until there are "
            "two, `helm rollback RELEASE REVISION -n NAMESPACE` rolls back one release",
        )
    if entries[-1].releases != now:
        shown = ", ".join(f"{name} {rev}" for name, rev in now.items())
        raise SiteboxError(
            f"the releases are at revisions {shown}, which sitebox did not record (changed "
            "with helm directly?); nothing was changed",
            hint="`sitebox install` brings the site back to its site.yaml and records it",
        )
    numbers = [e.number for e in entries]
    wanted = to if to is not None else (entries[-2].number if len(entries) > 1 else None)
    if wanted is None or wanted not in numbers[:-1]:
        raise SiteboxError(
            f"no site revision {wanted if wanted is not None else 'before this one'} to roll "
            f"back to; the site is at {entries[-1].number}",
            hint=f"`sitebox history` lists the site's revisions (kept: {numbers})",
        )
    return entries[numbers.index(wanted)]


def rollback(kube: Kube, helm: Helm, to: int | None, timeout: str, say: Say) -> history.Entry:
    """Both releases to the recorded pair, system first; the new site revision."""
    with lock.held(kube, "rollback of the site"):
        now = _now(helm)
        goal = target(history.read(kube), now, to)
        for _, name, namespace in RELEASES:
            if goal.releases.get(name) not in helm.revisions(name, namespace):
                raise SiteboxError(
                    f"Helm no longer keeps revision {goal.releases.get(name)} of {name}; "
                    "nothing was changed",
                    hint="roll back to a later site revision (`sitebox history`), or install "
                    "the site.yaml of that time with `sitebox upgrade`",
                )
        moved: list[tuple[str, str]] = []
        try:
            for _, name, namespace in RELEASES:
                if goal.releases[name] != now[name]:
                    say(f"rolling {name} back to revision {goal.releases[name]}")
                    helm.rollback(name, namespace, goal.releases[name], timeout=timeout)
                    moved.append((name, namespace))
        except HelmError as exc:
            # One half moved and the other not would be a site that never ran: undo.
            for name, namespace in moved:
                helm.rollback(name, namespace, now[name], timeout=timeout)
            raise SiteboxError(
                f"rolling back failed, and what had moved was put back: {exc.message}",
                hint=exc.hint or "`sitebox status` shows the site; fix what is named and retry",
            ) from None
        after = _now(helm)
        return history.record(kube, after, goal.distribution, f"rollback to {goal.number}")
