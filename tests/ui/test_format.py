"""appliance.format: the one way numbers, times and names read on the CLI, in the report and on the
dashboard (issue 18, point 3). Edge cases against hand-worked oracles: SI prefixes (IEC 80000-13),
the EU summer-time rule (Directive 2000/84/EC: last Sunday of March and October, 01:00 UTC) and the
IEEE registry entries the lab's bench file names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from appliance import format as fmt
from appliance.report import lab as lab_settings
from tests.support.paths import ROOT


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no zone setting; the zone a test sets does not leak into the next."""
    monkeypatch.delenv(fmt.ENV_TZ, raising=False)
    monkeypatch.setattr(fmt, "_lab_zone", "")
    monkeypatch.setattr(fmt, "_lab_read", False)


def _ns(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp()) * 10**9


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (1049, "1.0 kB"),
        (999_949, "999.9 kB"),
        (999_950, "1.0 MB"),  # rounds up into the next unit, never "1000.0 kB"
        (2_642_420, "2.6 MB"),  # the raw count
        (4_300_000_000, "4.3 GB"),
        (None, "-"),
    ],
)
def test_bytes(n: int | None, shown: str) -> None:
    assert fmt.fmt_bytes(n) == shown


@pytest.mark.parametrize(
    ("s", "shown"),
    [
        (0, "0 s"),
        (0.0004, "0.4 ms"),
        (0.314, "314 ms"),
        (2.5, "2.5 s"),
        (9.96, "10 s"),
        (45, "45 s"),
        (89.4, "89 s"),
        (90, "1.5 min"),
        (120, "2 min"),
        (600, "10 min"),
        (1199.999, "20 min"),  # the period
        (1200.001, "20 min"),
        (5399, "1.5 h"),
        (3 * 3600, "3 h"),
        (3 * 86400, "3 d"),
        (-1, "-"),
        (None, "-"),
    ],
)
def test_durations_are_rounded(s: float | None, shown: str) -> None:
    assert fmt.fmt_duration(s) == shown


def test_a_period_of_zero_is_none() -> None:
    assert fmt.fmt_secs(0) == "-" and fmt.fmt_secs(None) == "-"
    assert fmt.fmt_secs(119.999) == "2 min"


@pytest.mark.parametrize("value", [True, 1, "1", "true", "yes"])
def test_true_flags(value: object) -> None:
    assert fmt.fmt_bool(value) == "yes" and fmt.fmt_bool(value, "zh") == "是"


@pytest.mark.parametrize("value", [False, 0, "0", "", "false", None])
def test_false_flags(value: object) -> None:
    assert fmt.fmt_bool(value) == "no" and fmt.fmt_bool(value, "zh") == "否"


def test_numbers_and_hashes() -> None:
    assert fmt.fmt_num(30.016666) == "30" and fmt.fmt_num(2.456) == "2.5" and fmt.fmt_num(0.0123) == "0.012"
    assert fmt.fmt_num(12345.6) == "12,346" and fmt.fmt_count(8150) == "8,150"
    h = "2117cd049d707d5d97982672228f6789825f8167d5b75dd2bf88f3e8ea58b267"
    assert fmt.fmt_hash(h) == "2117cd049d70…" and fmt.fmt_hash(h, 16, mark="") == h[:16]
    assert fmt.fmt_hash("abc") == "abc"


def test_times_default_to_utc() -> None:
    ns = _ns(2026, 3, 2, 9, 0, 3)
    assert fmt.zone_name() == "UTC" and fmt.time_col("First") == "First (UTC)"
    assert fmt.fmt_ts(ns) == "2026-03-02 09:00:03" and fmt.fmt_ts(0) == "-"
    assert fmt.utc_offset(ns) == "UTC" and fmt.zone_note([ns]) == "UTC"


def test_times_in_a_zone_with_summer_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Berlin moves from UTC+1 to UTC+2 at 01:00 UTC on 2026-03-29 (the last Sunday of March)."""
    monkeypatch.setenv(fmt.ENV_TZ, "Europe/Berlin")
    before, after = _ns(2026, 3, 29, 0, 59, 59), _ns(2026, 3, 29, 1, 0, 0)
    assert fmt.fmt_ts(before) == "2026-03-29 01:59:59" and fmt.utc_offset(before) == "UTC+01:00"
    assert fmt.fmt_ts(after) == "2026-03-29 03:00:00" and fmt.utc_offset(after) == "UTC+02:00"
    assert fmt.fmt_ts_utc(after) == "2026-03-29 01:00:00 UTC"
    assert fmt.zone_note([after, before]) == "Europe/Berlin, UTC+01:00 / UTC+02:00"
    assert fmt.time_col("Start") == "Start (Europe/Berlin)"


def test_env_wins_over_the_lab_file(monkeypatch: pytest.MonkeyPatch) -> None:
    fmt.use_zone("Asia/Shanghai")
    ns = _ns(2026, 3, 2, 9, 0, 3)
    assert fmt.fmt_ts(ns) == "2026-03-02 17:00:03" and fmt.utc_offset(ns) == "UTC+08:00"
    monkeypatch.setenv(fmt.ENV_TZ, "UTC")
    assert fmt.fmt_ts(ns) == "2026-03-02 09:00:03"


def test_a_bad_zone_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fmt.ENV_TZ, "Mars/Olympus_Mons")
    with pytest.raises(fmt.ZoneError, match=r"^time zone 'Mars/Olympus_Mons' is not an IANA zone name"):
        fmt.fmt_ts(1)


def test_lab_settings_timezone(tmp_path: Path) -> None:
    """The example settings file's zone is used once it is read; a zone not in the IANA database
    is refused in one line."""
    settings = lab_settings.load(str(lab_settings.EXAMPLE))
    assert settings.timezone == "Asia/Shanghai" and fmt.zone_name() == "Asia/Shanghai"
    bad = tmp_path / "lab.toml"
    bad.write_text('[laboratory]\nname = "L"\ntimezone = "Asia/Atlantis"\n', encoding="utf-8")
    with pytest.raises(
        lab_settings.LabSettingsError, match=r"laboratory\.timezone: time zone 'Asia/Atlantis'"
    ):
        lab_settings.load(str(bad))


def test_macs_carry_their_vendor() -> None:
    """The lab's devices: the IEEE registrant's short name agrees with the vendor the bench file
    gives (its first word, case aside); a locally administered MAC says it is random."""
    bench = yaml.safe_load((ROOT / "pcaps" / "lab" / "lab.bench.yaml").read_text(encoding="utf-8"))
    devices = bench["devices"]
    items = devices.items() if isinstance(devices, dict) else ((d["mac"], d) for d in devices)
    checked = 0
    for mac, d in items:
        shown = fmt.fmt_mac(mac)
        assert shown.startswith(f"{mac} (") and shown.endswith(")"), shown
        word = str(d["vendor"]).split()[0].lower()
        if word in shown.lower():
            checked += 1
    assert checked >= 3, "most lab devices' registrants should match their bench vendor"
    assert fmt.fmt_mac("02:00:00:00:00:01") == "02:00:00:00:00:01 (random)"
    assert fmt.fmt_mac("e0:06:30:5a:11:21", "Huawei Watch") == "e0:06:30:5a:11:21 (Huawei Watch)"
    assert fmt.short_vendor("HUAWEI TECHNOLOGIES CO.,LTD") == "Huawei"
    assert fmt.short_vendor("BBK EDUCATIONAL ELECTRONICS CORP.,LTD.") == "BBK Educational"
