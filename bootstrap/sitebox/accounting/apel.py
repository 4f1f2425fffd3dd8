"""The APEL summary message: the text APEL's SSM client carries to the repository.

Facts, from APEL's own code (github.com/apel/apel, 2.5.0): `apel/db/__init__.py` names
the header "APEL-summary-job-message: v0.3" for normalised summaries
(NORMALISED_SUMMARY_MSG_HEADER), the form the APEL client itself unloads;
`apel/db/records/normalised_summary.py` lists its fields in this order, makes Site,
Month, Year, WallDuration, CpuDuration, NormalisedWallDuration, NormalisedCpuDuration
and NumberOfJobs mandatory, reads EarliestEndTime and LatestEndTime as seconds since
the epoch, and checks that both fall within the month. Records are `Key: value` lines,
each record ended by a line `%%` (`record_factory.py` splits on it). A field without a
value is left out, as APEL's own writer does. The server keeps one record per Site,
Month, Year, GlobalUserName, VO, VOGroup, VORole, SubmitHost, Infrastructure, NodeCount,
Processors (and benchmark type) and replaces it when the same key arrives again
(`REPLACE INTO` in schemas/server.sql), which is why sending a month twice is harmless.

The normalised durations are APEL's summariser's: duration x the per-core benchmark
(HEPscore23 or HEPSPEC06), summed over the jobs (schemas/server.sql, SummariseJobs).
"""

from __future__ import annotations

from dataclasses import dataclass

from sitebox.accounting.records import Summary

HEADER = "APEL-summary-job-message: v0.3"
SEPARATOR = "%%"
FIELDS = (
    "Site", "Month", "Year", "GlobalUserName", "VO", "VOGroup", "VORole", "SubmitHost",
    "Infrastructure", "NodeCount", "Processors", "EarliestEndTime", "LatestEndTime",
    "WallDuration", "CpuDuration", "NormalisedWallDuration", "NormalisedCpuDuration",
    "NumberOfJobs",
)  # fmt: skip
MANDATORY = (
    "Site", "Month", "Year", "WallDuration", "CpuDuration", "NormalisedWallDuration",
    "NormalisedCpuDuration", "NumberOfJobs",
)  # fmt: skip


@dataclass(frozen=True)
class Origin:
    """What the records say about where they come from."""

    site: str  # the GOCDB name of the site
    submit_host: str  # KAPEL's convention: host:port/namespace of the cluster's API
    benchmark: float  # per-core HEPscore23 (or HEPSPEC06) of the nodes jobs ran on
    infrastructure: str = "grid"


def records(summary: Summary, origin: Origin) -> list[dict[str, str]]:
    """Each summary record as its APEL fields, in APEL's order, sorted by key."""
    out = []
    for key, totals in sorted(summary.totals.items()):
        cpu = totals.cpu_seconds
        values: dict[str, object] = {
            "Site": origin.site,
            "Month": summary.month.month,
            "Year": summary.month.year,
            "VO": key.vo,
            "SubmitHost": origin.submit_host,
            "Infrastructure": origin.infrastructure,
            "NodeCount": key.node_count,
            "Processors": key.processors,
            "EarliestEndTime": totals.earliest_end,
            "LatestEndTime": totals.latest_end,
            "WallDuration": totals.wall,
            "CpuDuration": cpu,
            "NormalisedWallDuration": round(totals.wall * origin.benchmark),
            "NormalisedCpuDuration": round(totals.core_millis / 1000 * origin.benchmark),
            "NumberOfJobs": totals.jobs,
        }
        out.append({name: str(values[name]) for name in FIELDS if name in values})
    return out


def message(summary: Summary, origin: Origin) -> str:
    """The whole message: the header, then each record ended by `%%`."""
    lines = [HEADER]
    for record in records(summary, origin):
        lines += [f"{name}: {value}" for name, value in record.items()]
        lines.append(SEPARATOR)
    return "\n".join(lines) + "\n"


def parse(text: str) -> tuple[str, list[dict[str, str]]]:
    """(header, records) of a message, as APEL's loader splits it: the first line is the
    header, records are separated by `%%`, each line is `Key: value`."""
    header, _, body = text.strip().partition("\n")
    parsed = []
    for chunk in body.split(SEPARATOR):
        if chunk.strip():
            pairs = (line.split(":", 1) for line in chunk.strip().splitlines())
            parsed.append({k.strip(): v.strip() for k, v in pairs})
    return header.strip(), parsed
