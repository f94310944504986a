"""Two scales, each written once: a finding's severity, and a requirement's verdict.

A finding's severity is a risk level (``SEVERITIES``, worst first: the spec's **fail** for the
gravest cases of TR-07, TR-11 and TR-13, then high to info). A requirement's verdict answers
whether the device met it (``VERDICTS``: fail, review, pass, not assessed) and never borrows a
risk level: a requirement with findings fails, and the worst of their severities is given beside
the verdict, not in its place. Rule packs, the engine, the checks, the report, the dashboard and
the CLI all take the order, the labels (``LABELS``, English and Chinese) and the colours from here.

``requirement_verdicts`` is the judgement per requirement: pure (findings, rules and what could be
measured in, verdicts out, no store), so the report, the dashboard and the CLI give the same
verdicts. A requirement passes only where its rules ran on the evidence it declares it needs
(``policies.requirements``); without it the verdict is ``not assessed`` with the reason, and
where encrypted uploads nobody explained fall in the phases it covers it is ``review``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from policies.model import Rule
from policies.requirements import REQUIREMENTS, Requirement
from policies.wording import plural

SEVERITIES = ("fail", "high", "medium", "low", "info")  # a finding's severity, worst first
ASCENDING = SEVERITIES[::-1]  # mildest first: how packs, rule errors and `assess --json` list them

FAIL = "fail"  # findings of severity BREACH or worse name the requirement
REVIEW = "review"  # a person must look: unexplained encrypted uploads in its phases, or only info findings
PASS = "pass"  # its rules ran on the evidence it needs and raised nothing
NOT_ASSESSED = "not assessed"  # what it needs was not there to be measured (the note says what)
PAYLOADLESS = "Zeek logs carry no payload"  # the note of a content requirement on captures from logs
PAYLOADLESS_ZH = "Zeek 日志不含载荷内容"
VERDICTS = (FAIL, REVIEW, PASS, NOT_ASSESSED)  # a requirement's verdict, worst first
BREACH = "low"  # the mildest severity that fails a requirement: "info" findings are notes

LABELS: dict[str, tuple[str, str]] = {  # severity or verdict: (English, Chinese)
    "fail": ("fail", "不合格"),
    "high": ("high", "高风险"),
    "medium": ("medium", "中风险"),
    "low": ("low", "低风险"),
    "info": ("info", "提示"),
    REVIEW: ("review", "待复核"),
    PASS: ("pass", "通过"),
    NOT_ASSESSED: ("not assessed", "未评估"),
}
COLORS = {  # badges and the dashboard's severity chart, dark (worst) to pale
    "fail": "#7f0000",
    "high": "#d7301f",
    "medium": "#fc8d59",
    "low": "#fdcc8a",
    "info": "#bdbdbd",
    REVIEW: "#6a51a3",
    PASS: "#2e7d32",
    NOT_ASSESSED: "#e0e0e0",
}

_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_VERDICT_RANK = {v: i for i, v in enumerate(VERDICTS)}


def label(value: str, lang: str = "en") -> str:
    """A severity's or a verdict's label in English or Chinese (the value itself when unknown)."""
    pair = LABELS.get(value)
    return value if pair is None else pair[1] if lang == "zh" else pair[0]


def rank(severity: str) -> int:
    """0 for the worst severity; unknown values rank after every known one (so they never win ``worst``)."""
    return _RANK.get(severity, len(SEVERITIES))


def worst(severities: Iterable[str]) -> str:
    """The worst of some severities (ValueError when there are none)."""
    return min(severities, key=rank)


def at_least(severity: str, floor: str) -> bool:
    """Whether a severity is as bad as ``floor`` or worse ("high" is at least "medium")."""
    return rank(severity) <= rank(floor)


def verdict_rank(verdict: str) -> int:
    """0 for fail, then review, pass and not assessed; unknown values last."""
    return _VERDICT_RANK.get(verdict, len(VERDICTS))


@dataclass(frozen=True)
class Upload:
    """An upload burst on a flow whose content could not be read (``appliance.measures.shapes``)."""

    phase: str
    flow_id: str
    kind: str  # audio, video or unknown, with its leaning (``appliance.measures.upload_kinds``)


@dataclass(frozen=True)
class Measured:
    """What the captures behind the verdicts allowed to be measured."""

    assessed: bool  # an assessment is stored for them
    declared: bool  # a product declaration was given to it
    marked_phases: frozenset[str] = field(default_factory=frozenset)  # phases with a start mark
    readable_flows: int = 0  # flows off the LAN whose content was read
    encrypted_flows: int = 0  # flows that could not be read for want of keys
    uploads: tuple[Upload, ...] = ()  # upload bursts on flows that could not be read
    payloadless: bool = False  # every capture behind them came from Zeek logs (no payload, issue 21)


@dataclass(frozen=True)
class RequirementVerdict:
    requirement: Requirement
    verdict: str  # one of VERDICTS
    note: str  # why, in one phrase (may quote a command in backquotes)
    findings: int  # how many findings name the requirement
    rules: tuple[str, ...]  # the rules that judge it for this category (else those of its findings)
    severity: str = ""  # the worst severity among its findings, '' when none
    note_zh: str = ""  # ``note`` in Chinese (the report's --lang zh)

    @property
    def verdict_zh(self) -> str:
        return label(self.verdict, "zh")


def requirement_verdicts(
    findings: Sequence[Mapping[str, Any]],
    rules: Iterable[Rule],
    category: str,
    measured: Measured,
    requirements: Sequence[Requirement] = REQUIREMENTS,
) -> list[RequirementVerdict]:
    """The verdict per requirement: fail where findings name it; else pass where a rule judged it on
    what it needs, review where what it covers could not be read, else not assessed, with the reason.

    ``findings`` are mappings with ``severity``, ``requirements``, ``rule_id`` and optionally
    ``flow_ids`` (the store's rows and the report's findings both are); ``rules`` those of the
    packs that ran.
    """
    applicable = [r for r in rules if r.applies_to(category)]
    out = []
    for req in requirements:
        mine = [f for f in findings if req.id in f["requirements"]]
        judged_by = sorted({r.id for r in applicable if req.id in r.requirements})
        verdict, note, note_zh = requirement_verdict(req, mine, judged_by, measured)
        named = judged_by or sorted({str(f["rule_id"]) for f in mine})
        sev = worst(str(f["severity"]) for f in mine) if mine else ""
        out.append(RequirementVerdict(req, verdict, note, len(mine), tuple(named), sev, note_zh))
    return out


def requirement_verdict(
    req: Requirement, findings: Sequence[Mapping[str, Any]], rules: Sequence[str], measured: Measured
) -> tuple[str, str, str]:
    """One requirement's verdict and its note in English and Chinese, from its findings and the
    rules that judge it."""
    severities = [str(f["severity"]) for f in findings]
    breaches = [s for s in severities if at_least(s, BREACH)]
    if breaches:
        w = worst(breaches)
        return (FAIL, f"{plural(len(breaches), 'finding')}, the worst {w}",
                f"{len(breaches)} 项发现，最严重为{label(w, 'zh')}")  # fmt: skip
    missing, missing_zh = _missing(req, rules, measured)
    if missing:
        return NOT_ASSESSED, missing, missing_zh
    if severities:
        return (
            REVIEW,
            f"{plural(len(severities), 'finding')} at info only: a person judges whether it is met",
            f"{len(severities)} 项发现均为提示级：由人工判断是否满足",
        )
    explained = {str(i) for f in findings for i in f.get("flow_ids", ())}
    unread = [u for u in measured.uploads if u.phase in req.uploads_in and u.flow_id not in explained]
    if unread:
        kinds = ", ".join(sorted({u.kind for u in unread}))
        phases = ", ".join(p for p in req.uploads_in if any(u.phase == p for u in unread))
        return (
            REVIEW,
            f"{plural(len(unread), 'encrypted upload')} ({kinds}) in {phases} that no finding explains: "
            "its rules could not read what they carry",
            f"{phases} 阶段有 {len(unread)} 次加密上传（{kinds}）未被任何发现解释：其规则无法读取所载内容",
        )
    note, note_zh = "its rules raised nothing", "其规则未发现问题"
    if req.content and measured.encrypted_flows:
        note += f"; {plural(measured.encrypted_flows, 'encrypted flow')} unread"
        note_zh += f"；{measured.encrypted_flows} 条加密流未能读取"
    return PASS, note, note_zh


def _missing(req: Requirement, rules: Sequence[str], measured: Measured) -> tuple[str, str]:
    """Why the requirement could not be assessed, in English and Chinese; '' when everything it
    needs was there."""
    if not measured.assessed:
        return "no assessment stored: run `tapaudit assess`", "尚无评估结果：请运行 `tapaudit assess`"
    if not rules:
        return (
            "no rule for this device category in the packs that ran",
            "所运行的规则包中没有适用于该设备类别的规则",
        )
    if req.declaration and not measured.declared:
        return (f"needs the product's declaration ({req.declaration})",
                f"需要产品声明（{req.declaration_zh or req.declaration}）")  # fmt: skip
    if req.timeline and not measured.marked_phases:
        return (
            f"needs the test phases marked ({req.timeline}): replay with `--phases`, then assess again",
            f"需要标记测试阶段（{req.timeline_zh or req.timeline}）：用 `--phases` 重放后重新评估",
        )
    if req.phases and not measured.marked_phases & set(req.phases):
        return (
            f"needs one of these phases marked: {', '.join(req.phases)} "
            "(the phases file, `replay --phases`), then assess again",
            f"需要标记以下阶段之一：{', '.join(req.phases)}（阶段文件，`replay --phases`），然后重新评估",
        )
    if req.content and measured.payloadless:  # logs name connections, not what they carried
        return PAYLOADLESS, PAYLOADLESS_ZH
    if req.content and measured.readable_flows <= 0:
        return ("no readable traffic: every flow was encrypted or not dissected",
                "没有可读流量：所有数据流均已加密或未能解析")  # fmt: skip
    return "", ""
