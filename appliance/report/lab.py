"""The laboratory's settings for the report: who issues it, for whom, its number, who signs it.

An accredited lab's report names the laboratory, the customer, a unique report number, the item
tested and the people who tested, reviewed and approved it (ISO/IEC 17025:2017 clause 7.8.2.1 a-p).
tapaudit cannot know these, so the engineer keeps them in a TOML file. It is the file given with
``tapaudit report --lab FILE``, else the one named by env TAPAUDIT_LAB, else
``~/.config/tapaudit/lab.toml``; without one the report says "not configured" where they would be.
``appliance/report/lab.example.toml`` is a complete example:

    [laboratory]
    name = "..."             # required
    address = "..."
    accreditation = "CNAS L0000"
    timezone = "Asia/Shanghai"  # IANA name: times in the report, CLI and dashboard (TAPAUDIT_TZ wins)

    [customer]
    name = "..."
    address = "..."

    [setup]
    capture_point = "..."    # where the tap sees the device's traffic

    [report]
    number = "TA-{date}-{device}"   # {date}: YYYYMMDD of issue, {year}, {device}: MAC without colons
    decision_rule = "..."           # optional: replaces DECISION_RULE

    [[items]]                # the items received, by MAC: serial and IMEI, shown masked
    mac = "80:41:4e:7c:22:31"
    serial = "..."
    imei = "..."

    [[signatories]]          # in signing order
    role = "Tested by"
    name = "..."

A file that is not TOML, or whose fields are not of the kinds above (a time zone not in the IANA
database included), is one ``LabSettingsError`` line (exit 1 from the command). Reading a file sets
its time zone for ``appliance.format`` (``use_zone``): every time the process prints after that is in
the lab's zone, unless env TAPAUDIT_TZ names another.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.format import ZoneError, check_zone, use_zone
from appliance.masking import mask

ENV = "TAPAUDIT_LAB"
DEFAULT = Path("~/.config/tapaudit/lab.toml")
EXAMPLE = Path(__file__).resolve().parent / "lab.example.toml"
NUMBER = "TA-{date}-{device}"
# Simple acceptance, ILAC-G8:09/2019 clause 4.2.1 (no guard band): the checks are qualitative
# (a finding is raised or it is not), so there is no measurement uncertainty to widen a limit by.
DECISION_RULE = (
    "Simple acceptance without a guard band (ILAC-G8:09/2019, 4.2.1): a requirement is 'fail' when "
    "at least one finding names it, 'review' when traffic it covers could not be read or only "
    "information findings name it, 'pass' when its rules ran on the evidence they need and raised "
    "nothing, and 'not assessed' otherwise. The item does not conform when a requirement is "
    "'fail'; conformity is not determined while one is 'review'; otherwise it conforms to the "
    "requirements assessed, those not assessed being named."
)

DECISION_RULE_ZH = (
    "简单接受规则，不设保护带（ILAC-G8:09/2019，4.2.1）：至少有一项发现指向某项要求时，该要求判为“不合格”；"
    "其所涉流量无法读取，或仅有提示级发现指向它时，判为“待复核”；其规则在所需证据上运行且未发现问题时，"
    "判为“通过”；否则判为“未评估”。任一要求“不合格”时，样品不符合；仍有要求“待复核”时，不作符合性判定；"
    "否则样品符合所评估的要求，并列明未评估的要求。"
)


class LabSettingsError(Exception):
    """The lab settings file cannot be used: one line for the user."""


@dataclass(frozen=True)
class Signatory:
    role: str
    name: str


@dataclass(frozen=True)
class Item:
    serial: str = ""
    imei: str = ""


@dataclass(frozen=True)
class LabSettings:
    source: str = ""  # the file read, "" when none
    lab_name: str = ""
    lab_address: str = ""
    accreditation: str = ""
    timezone: str = ""  # IANA name, "" for UTC (appliance.format)
    customer_name: str = ""
    customer_address: str = ""
    capture_point: str = ""
    number: str = NUMBER
    decision_rule: str = DECISION_RULE
    items: dict[str, Item] = field(default_factory=dict)
    signatories: tuple[Signatory, ...] = ()

    def report_number(self, mac: str, issued: dt.date) -> str:
        fields = {"date": issued.strftime("%Y%m%d"), "year": f"{issued.year}", "device": mac.replace(":", "")}
        try:
            return self.number.format(**fields)
        except (KeyError, IndexError, ValueError) as exc:
            raise LabSettingsError(
                f"{self.source}: report.number {self.number!r}: unknown field {exc} "
                "(use {date}, {year}, {device})"
            ) from None

    def item(self, mac: str) -> Item:
        """The item's serial and IMEI, masked (appliance.masking.mask)."""
        it = self.items.get(mac.lower(), Item())
        return Item(mask(it.serial), mask(it.imei))


def find(given: str | None) -> Path | None:
    """The settings file to read: the one given, env TAPAUDIT_LAB, or the default if it exists."""
    if given:
        return Path(given)
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    default = DEFAULT.expanduser()
    return default if default.is_file() else None


def load(given: str | None = None) -> LabSettings:
    """The settings of ``find(given)`` (empty ones without a file); their time zone is used from now on."""
    path = find(given)
    if path is None:
        use_zone("")
        return LabSettings()
    import tomllib  # only with a file: every command that prints a time calls this (issue 20, point 3)

    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabSettingsError(f"lab settings {path}: cannot be read ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LabSettingsError(f"lab settings {path}: not TOML ({str(exc).splitlines()[0]})") from None
    settings = parse(doc, str(path))
    use_zone(settings.timezone)
    return settings


def parse(doc: dict[str, Any], source: str) -> LabSettings:
    def table(key: str) -> dict[str, Any]:
        v = doc.get(key, {})
        if not isinstance(v, dict):
            raise LabSettingsError(f"lab settings {source}: [{key}] must be a table")
        return v

    def text(t: dict[str, Any], section: str, key: str, default: str = "") -> str:
        v = t.get(key, default)
        if not isinstance(v, str):
            raise LabSettingsError(f"lab settings {source}: {section}.{key} must be text")
        return v.strip()

    def array(key: str) -> list[dict[str, Any]]:
        v = doc.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            raise LabSettingsError(f"lab settings {source}: [[{key}]] must be an array of tables")
        return v

    lab, cust, rep, setup = table("laboratory"), table("customer"), table("report"), table("setup")
    if not text(lab, "laboratory", "name"):
        raise LabSettingsError(f"lab settings {source}: laboratory.name is required")
    timezone = text(lab, "laboratory", "timezone")
    try:
        check_zone(timezone) if timezone else None
    except ZoneError as exc:
        raise LabSettingsError(f"lab settings {source}: laboratory.timezone: {exc}") from None
    items = {}
    for it in array("items"):
        mac = text(it, "items", "mac").lower()
        if not mac:
            raise LabSettingsError(f"lab settings {source}: every [[items]] needs a mac")
        items[mac] = Item(text(it, "items", "serial"), text(it, "items", "imei"))
    signatories = tuple(
        Signatory(text(s, "signatories", "role"), text(s, "signatories", "name"))
        for s in array("signatories")
    )
    if any(not s.role or not s.name for s in signatories):
        raise LabSettingsError(f"lab settings {source}: every [[signatories]] needs a role and a name")
    settings = LabSettings(
        source=source,
        lab_name=text(lab, "laboratory", "name"),
        lab_address=text(lab, "laboratory", "address"),
        accreditation=text(lab, "laboratory", "accreditation"),
        timezone=timezone,
        customer_name=text(cust, "customer", "name"),
        customer_address=text(cust, "customer", "address"),
        capture_point=text(setup, "setup", "capture_point"),
        number=text(rep, "report", "number", NUMBER) or NUMBER,
        decision_rule=text(rep, "report", "decision_rule", DECISION_RULE) or DECISION_RULE,
        items=items,
        signatories=signatories,
    )
    settings.report_number("00:00:00:00:00:00", dt.date(2000, 1, 1))  # a bad scheme fails now, in one line
    return settings
