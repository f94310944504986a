"""The dashboard's labels in English and Chinese; the sidebar's language switch picks one.

Severities and verdicts are not labelled here: ``level`` takes them from ``policies.verdicts``,
which the report and the CLI read too."""

from __future__ import annotations

import streamlit as st

from policies import verdicts

LANGS = ("en", "zh")
LANG_NAMES = {"en": "English", "zh": "中文"}

# key: (English, Chinese)
LABELS: dict[str, tuple[str, str]] = {
    "app_title": ("tapaudit dashboard", "tapaudit 仪表盘"),
    "language": ("Language", "语言"),
    "page": ("Page", "页面"),
    "captures": ("Captures", "抓包"),
    "live_session": ("Live capture session", "实时抓包会话"),
    "dropped": ("Dropped packets", "丢包数"),
    "capture": ("Capture", "抓包"),
    "lag": ("Lag", "延迟"),
    "spooled": ("Batches spooled", "暂存批次"),
    "note": ("Note", "备注"),
    "device_mac_optional": ("Device MAC (optional)", "设备 MAC（可选）"),
    "mark_now": ("Mark phase start now", "立即标记阶段开始"),
    "marked": ("Marked", "已标记"),
    "overview": ("Overview", "概览"),
    "device": ("Device", "设备"),
    "destinations": ("Destinations", "目的地"),
    "findings": ("Findings", "发现"),
    "flows": ("Flows", "流量"),
    "capture_filter": ("Captures shown (none = all)", "显示的抓包（不选 = 全部）"),
    "no_data": ("Nothing stored yet: replay a capture first.", "尚无数据：请先回放抓包。"),
    "password": ("Password", "密码"),
    "wrong_password": ("Wrong password.", "密码错误。"),
    # columns
    "sha256": ("SHA-256", "SHA-256"),
    "path": ("File", "文件"),
    "start": ("Start (UTC)", "开始（UTC）"),
    "end": ("End (UTC)", "结束（UTC）"),
    "duration": ("Duration (min)", "时长（分钟）"),
    "packets": ("Packets", "数据包"),
    "devices": ("Devices", "设备数"),
    "status": ("Status", "状态"),
    "mac": ("MAC", "MAC 地址"),
    "attributed_by": ("Found by", "识别依据"),
    "name": ("Name", "名称"),
    "category": ("Category", "类别"),
    "vendor": ("Vendor", "厂商"),
    "n_flows": ("Flows", "流数"),
    "bytes_sent": ("Sent (bytes)", "发送（字节）"),
    "data_types": ("Data types sent", "发送的数据类型"),
    "third_parties": ("Third parties", "第三方"),
    "countries": ("Countries reached", "到达的国家/地区"),
    "destination": ("Destination", "目的地"),
    "organisation": ("Organisation", "组织"),
    "party": ("Party", "关系方"),
    "country": ("Country", "国家/地区"),
    "cross_border": ("Cross-border", "跨境"),
    "security": ("Protection", "保护方式"),
    "received": ("Received (bytes)", "接收（字节）"),
    "severity": ("Severity", "严重程度"),
    "rule": ("Rule", "规则"),
    "pack": ("Pack", "规则包"),
    "statement": ("Statement", "结论"),
    "figures": ("Figures", "数据"),
    "excerpts": ("Evidence excerpts (masked)", "证据摘录（已脱敏）"),
    "first_seen": ("First (UTC)", "首次（UTC）"),
    "data_type": ("Data type", "数据类型"),
    "reports": ("Reports", "上报次数"),
    "period": ("Period (s)", "周期（秒）"),
    "jitter": ("Jitter (s)", "抖动（秒）"),
    "bursts": ("Bursts", "突发数"),
    "upload_kind": ("Upload kind", "上传类型"),
    "upload_confidence": ("Confidence", "置信度"),
    "upload_reason": ("Why", "依据"),
    "bytes_out": ("Bytes out", "上行字节"),
    "proto": ("Protocol", "协议"),
    "src": ("Source", "源"),
    "dst": ("Destination address", "目的地址"),
    "direction": ("Direction", "方向"),
    "bytes_up": ("Bytes up", "上行字节"),
    "bytes_down": ("Bytes down", "下行字节"),
    "page_size": ("Rows per page", "每页行数"),
    "page_no": ("Page", "页码"),
    "download_csv": ("Download this page as CSV", "下载本页 CSV"),
    "flow_id": ("Flow id", "流 ID"),
    "all": ("(all)", "（全部）"),
    "flows_total": ("Flows of the selection", "所选流数"),
    "findings_total": ("Findings", "发现数"),
    "devices_total": ("Devices under test", "受测设备数"),
    "by_severity": ("Findings by severity", "按严重程度的发现"),
    "count": ("Count", "数量"),
    # findings: downloads
    "prepare_pcap": ("Prepare evidence capture", "生成证据抓包"),
    "prepare_report": ("Prepare device report", "生成设备报告"),
    "download_pcap": ("Download evidence (pcap)", "下载证据（pcap）"),
    "download_report": ("Download device report (HTML)", "下载设备报告（HTML）"),
    "masked_report": ("values masked", "数值已脱敏"),
    # flows: filters
    "dest_filter": ("Destination contains", "目的地包含"),
    "transport": ("Transport", "传输协议"),
    "app": ("Application protocol", "应用协议"),
    "any": ("(any)", "（任意）"),
    "app_none": ("(none recognised)", "（未识别）"),
    "since": ("From (UTC)", "起始（UTC）"),
    "until": ("Until (UTC)", "截止（UTC）"),
    # charts
    "timeline_title": ("Observations by data type over time", "各数据类型的观测时间线"),
    "time_utc": ("Time (UTC)", "时间（UTC）"),
    "phase": ("Test phase", "测试阶段"),
    "interval_title": ("Reporting intervals per data type", "各数据类型的上报间隔"),
    "interval_s": ("Interval between reports (s)", "上报间隔（秒）"),
    "n_intervals": ("Number of intervals", "间隔个数"),
    "precision_title": ("Best location precision per data type", "各数据类型的最佳定位精度"),
    "metres": ("Precision (metres)", "精度（米）"),
    "periodicity_title": (
        "Encrypted traffic: reporting period per destination",
        "加密流量：各目的地的上报周期",
    ),
    "uploads_title": ("Upload bursts over time", "上传突发时间线"),
    "upload_kb": ("Upload size (kB)", "上传大小（kB）"),
    "dest_title": ("Destinations by organisation and country", "按组织与国家/地区的目的地"),
    "severity_title": ("Findings by severity", "按严重程度的发现"),
    "no_observations": ("No personal-data observations.", "没有个人数据观测。"),
    "no_periodic": ("No encrypted periodic traffic.", "没有加密的周期性流量。"),
    "no_uploads": ("No upload bursts.", "没有上传突发。"),
    "requirements_title": ("Verdict per requirement", "各项要求结论"),
    "requirement": ("Requirement", "要求"),
    "req_id": ("Req.", "要求编号"),
    "verdict": ("Verdict", "结论"),
    "worst_finding": ("Worst finding", "最严重发现"),
    "n_findings": ("Findings", "发现数"),
    "basis": ("Basis", "依据"),
    "no_findings": ("No findings (run `tapaudit assess`).", "没有发现（请运行 `tapaudit assess`）。"),
    # captures: upload and delete
    "upload_title": ("Add captures", "添加抓包"),
    "upload_captures": ("Capture files (pcap, pcapng)", "抓包文件（pcap、pcapng）"),
    "upload_bench": ("Bench file (optional)", "测试台文件（可选）"),
    "upload_phases": ("Phases file (optional)", "阶段文件（可选）"),
    "upload_decls": ("Declaration files (optional)", "声明文件（可选）"),
    "upload_keylogs": ("TLS key logs (optional, SSLKEYLOGFILE)", "TLS 密钥日志（可选，SSLKEYLOGFILE）"),
    "upload_keylogs_help": (
        "Session keys to decrypt the captures' TLS. Kept readable by the appliance only, never shown.",
        "用于解密抓包中 TLS 的会话密钥。仅设备可读，从不显示。",
    ),
    "tls_counts": (
        "TLS flows {decrypted} decrypted, {no_key} without key, {failed} failed",
        "TLS 流：已解密 {decrypted}，无密钥 {no_key}，失败 {failed}",
    ),
    "ingest": ("Ingest and assess", "导入并评估"),
    "no_capture_chosen": ("Choose at least one capture file.", "请至少选择一个抓包文件。"),
    "ingested": ("Ingested", "已导入"),
    "already_stored": ("Already stored", "已存在"),
    "findings_n": ("findings", "条发现"),
    "delete_title": ("Delete a capture", "删除抓包"),
    "delete_pick": ("Capture to delete", "要删除的抓包"),
    "delete_confirm": (
        "Yes, delete this capture and everything derived from it",
        "确认删除此抓包及其所有派生数据",
    ),
    "delete": ("Delete", "删除"),
    "delete_unconfirmed": ("Tick the confirmation first.", "请先勾选确认。"),
    "deleted": ("Deleted capture", "已删除抓包"),
    # compare
    "compare": ("Compare", "对比"),
    "capture_a": ("Capture A (before)", "抓包 A（之前）"),
    "capture_b": ("Capture B (after)", "抓包 B（之后）"),
    "need_two": ("Two stored captures are needed to compare.", "对比需要至少两个已存储的抓包。"),
    "same_capture": ("Pick two different captures.", "请选择两个不同的抓包。"),
    "changes": ("Changes", "变化数"),
    "new_in_b": ("New in B", "B 中新增"),
    "gone_in_b": ("Gone in B", "B 中消失"),
    "new_destination": ("New destination", "新增目的地"),
    "gone_destination": ("Gone destination", "消失的目的地"),
    "new_organisation": ("New organisation", "新增组织"),
    "gone_organisation": ("Gone organisation", "消失的组织"),
    "new_country": ("New country", "新增国家/地区"),
    "gone_country": ("Gone country", "消失的国家/地区"),
    "new_data_type": ("New data type", "新增数据类型"),
    "gone_data_type": ("Gone data type", "消失的数据类型"),
    "new_series": ("New series (data type)", "新增上报序列（数据类型）"),
    "gone_series": ("Gone series (data type)", "消失的上报序列（数据类型）"),
    "new_finding": ("New finding (rule)", "新增发现（规则）"),
    "gone_finding": ("Gone finding (rule)", "消失的发现（规则）"),
    "subject": ("Subject", "对象"),
    "series_title": ("Reporting series", "上报序列"),
    "frequency_title": ("Reporting frequency changes", "上报频率变化"),
    "precision_title_cmp": ("Precision changes", "精度变化"),
    "a_interval": ("Interval in A (s)", "A 中间隔（秒）"),
    "b_interval": ("Interval in B (s)", "B 中间隔（秒）"),
    "a_reports": ("Reports in A", "A 中上报次数"),
    "b_reports": ("Reports in B", "B 中上报次数"),
    "factor": ("A / B", "A / B"),
    "a_decimals": ("Decimals in A", "A 中小数位"),
    "b_decimals": ("Decimals in B", "B 中小数位"),
    "a_metres": ("Metres in A", "A 中精度（米）"),
    "b_metres": ("Metres in B", "B 中精度（米）"),
    "finer": ("Finer in B", "B 更精细"),
}


def lang() -> str:
    value = st.session_state.get("lang", "en")
    return value if value in LANGS else "en"


def t(key: str) -> str:
    """The label ``key`` in the chosen language (the key itself when unknown)."""
    pair = LABELS.get(key)
    if pair is None:
        return key
    return pair[1] if lang() == "zh" else pair[0]


def level(value: str) -> str:
    """A severity or a verdict in the chosen language (``policies.verdicts.LABELS``)."""
    return verdicts.label(value, lang()) if value else "-"
