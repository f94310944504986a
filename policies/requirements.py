"""The requirements a report gives a verdict on (TR-01..TR-17 of the requirements spec, section 2).

Each has a short title in English and Chinese and declares what its measurement needs beyond a
rule that implements it (``policies.verdicts`` gives ``not assessed`` without it): readable
content, the product's declaration, the test's time line (a consent moment placed by the marked
phases), or one of the test phases its rules look at (TR-03's idle rules, TR-05's switch-off, TR-06's
idle and mute, TR-15's withdrawal and deletion: the rules' ``phases`` and ``withdraw_phases`` in
``policies/packs``). Where an encrypted upload in those phases could breach it (TR-05, TR-06,
TR-15, spec section 5 "Pinned TLS": timing, volume and destination only), an upload no finding
explains puts it under review. A requirement without findings passes only where all that was
there to be measured.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    title_zh: str
    content: bool = False  # judged on what the device sent: needs readable (decrypted or clear) traffic
    declaration: str = ""  # what of the declaration it compares with, '' when it needs none
    phases: tuple[str, ...] = ()  # the test phases it is judged in: one must be marked; () any or none
    timeline: str = ""  # what its rules place on the marked phases (the consent...), '' when none
    uploads: bool = False  # encrypted uploads in ``phases`` could breach it: unexplained ones need review
    declaration_zh: str = ""  # ``declaration`` and ``timeline`` in Chinese, for the report's --lang zh
    timeline_zh: str = ""

    @property
    def uploads_in(self) -> tuple[str, ...]:
        """The phases where an encrypted upload no finding explains puts it under review."""
        return self.phases if self.uploads else ()


REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("TR-01", "No personal data before the rules are shown and consent is given",
                "未展示规则并取得同意前不收集个人信息", declaration="the consent time",
                timeline="the declared consent, given as a phase", declaration_zh="同意时间",
                timeline_zh="声明的同意时刻，以阶段标记给出"),
    Requirement("TR-02", "Only the personal data necessary for the function in use",
                "仅收集所用功能必需的个人信息", content=True),
    Requirement("TR-03", "Lowest necessary collection frequency", "以最低必要频率收集", content=True,
                phases=("idle", "background", "feature_off", "mute", "privacy_mode")),
    Requirement("TR-04", "Precise location only with separate consent and when needed",
                "精确位置仅在必要时并经单独同意后收集", content=True),
    Requirement("TR-05", "Continuous background or cloud processing prompted and can be switched off",
                "持续后台或云端处理须显著提示并可关闭",
                phases=("feature_off", "background", "privacy_mode"), uploads=True),
    Requirement("TR-06", "Speakers upload audio only after activation", "音箱仅在唤醒后上传音频",
                phases=("idle", "mute"), uploads=True),
    Requirement("TR-07", "Face data stays on the device unless separately consented",
                "人脸信息除单独同意外不离开设备", content=True),
    Requirement("TR-08", "Other biometrics handled as face data", "其他生物识别信息同人脸信息处理",
                content=True),
    Requirement("TR-09", "Contacts not collected without a feature that needs them",
                "无相应功能需要时不收集通讯录", content=True),
    Requirement("TR-10", "No unchangeable identifiers to third parties without disclosure and consent",
                "未经告知同意不向第三方提供不可变更的设备标识符", content=True),
    Requirement("TR-11", "Personal data encrypted in transit", "个人信息传输加密"),
    Requirement("TR-12", "Cross-border transfers have a legal basis", "个人信息出境须有合法依据"),
    Requirement("TR-13", "Third-party recipients are disclosed", "第三方接收方已披露"),
    Requirement("TR-14", "Under-14 data: guardian consent, no default sensor access",
                "未满十四周岁未成年人信息：监护人同意，默认不开放传感器",
                timeline="the guardian's consent, given as a phase",
                timeline_zh="监护人同意的时刻，以阶段标记给出"),
    Requirement("TR-15", "Withdrawal, switch-off and deletion take effect", "撤回同意、关闭和删除生效",
                phases=("withdraw", "consent_withdrawn", "delete", "account_deleted"), uploads=True),
    Requirement("TR-16", "Telemetry minimised and disclosed", "遥测数据最小化并已披露", content=True,
                declaration="the declared telemetry fields", declaration_zh="声明的遥测字段"),
    Requirement("TR-17", "Sensors documented", "传感器已在文档中说明",
                declaration="the documented sensors", declaration_zh="文档中说明的传感器"),
)  # fmt: skip
BY_ID = {r.id: r for r in REQUIREMENTS}
