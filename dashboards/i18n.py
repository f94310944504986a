"""The dashboard's labels in English and Chinese; the sidebar's language switch picks one.

Severities and verdicts are not labelled here: ``level`` takes them from ``policies.verdicts``,
which the report and the CLI read too."""

from __future__ import annotations

import json
import re
from typing import Any

import streamlit as st

from policies import verdicts
from policies.wording import CATEGORY_TEXT, PHASE_TEXT, type_zh

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
    "store_busy": (
        "The store is busy: {what}, started {s} s ago. This page shows once it is done (reload then).",
        "数据库正忙：{what}，已开始 {s} 秒。完成后本页即可显示（届时请刷新）。",
    ),
    "busy_ingest": ("another session is ingesting {names}", "另一会话正在导入 {names}"),
    "busy_delete": ("another session is deleting {name}", "另一会话正在删除 {name}"),
    "wrong_password": ("Wrong password.", "密码错误。"),
    "throttled": ("Too many wrong passwords: try again in {s} s.", "密码错误次数过多：请 {s} 秒后再试。"),
    "password_unusable": (
        "The settings file's password is too short (at least {n} characters): set a longer one.",
        "设置文件中的密码太短（至少 {n} 个字符）：请设置更长的密码。",
    ),
    # columns
    "sha256": ("SHA-256", "SHA-256"),
    "path": ("File", "文件"),
    "start": ("Start (UTC)", "开始（UTC）"),
    "end": ("End (UTC)", "结束（UTC）"),
    "duration": ("Duration", "时长"),
    "packets": ("Packets", "数据包"),
    "devices": ("Devices", "设备数"),
    "status": ("Status", "状态"),
    "mac": ("MAC", "MAC 地址"),
    "attributed_by": ("Found by", "识别依据"),
    "name": ("Name", "名称"),
    "category": ("Category", "类别"),
    "vendor": ("Vendor", "厂商"),
    "n_flows": ("Flows", "流数"),
    "bytes_sent": ("Sent", "发送"),
    "data_types": ("Data types sent", "发送的数据类型"),
    "third_parties": ("Third parties", "第三方"),
    "countries": ("Countries reached", "到达的国家/地区"),
    "destination": ("Destination", "目的地"),
    "organisation": ("Organisation", "组织"),
    "party": ("Party", "关系方"),
    "country": ("Country", "国家/地区"),
    "cross_border": ("Cross-border", "跨境"),
    "security": ("Protection", "保护方式"),
    "received": ("Received", "接收"),
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
    # findings: Wireshark's check (issue 22)
    "wc_title": ("Wireshark's check", "Wireshark 核查"),
    "wc_confirmed": ("confirmed", "已确认"),
    "wc_not_confirmed": ("not confirmed", "未确认"),
    "wc_not_checkable": ("not checkable", "无法核查"),
    "wc_not_checked": ("not checked", "未核查"),
    "wc_never": (
        "Wireshark was not asked yet: `tapaudit assess --confirm` checks every finding.",
        "尚未交由 Wireshark 核查：`tapaudit assess --confirm` 会核查全部发现。",
    ),
    "wc_keyed": ("with the TLS session keys", "使用 TLS 会话密钥"),
    "wc_show": ("Show the evidence packets as Wireshark reads them", "显示 Wireshark 解读的证据数据包"),
    "wc_packets": (
        "Evidence packets (tshark's packet list, masked)",
        "证据数据包（tshark 数据包列表，已脱敏）",
    ),
    "wc_checks": ("What the finding states, as Wireshark reads it", "发现所述内容与 Wireshark 解读对照"),
    "wc_tree": ("Dissection of the fields that matter", "相关字段的解析树"),
    "wc_frame": ("Frame", "帧"),
    "wc_time": ("Time (UTC)", "时间（UTC）"),
    "wc_src": ("Source", "源地址"),
    "wc_dst": ("Destination", "目的地址"),
    "wc_protocol": ("Protocol", "协议"),
    "wc_length": ("Length", "长度"),
    "wc_info": ("Info", "信息"),
    "wc_claim": ("Claim", "所述内容"),
    "wc_field": ("Wireshark field", "Wireshark 字段"),
    "wc_expected": ("Finding says", "发现所述"),
    "wc_seen": ("Wireshark reads", "Wireshark 读到"),
    "wc_ok": ("Agrees", "一致"),
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
    "utc_help": (
        "In the lab's time zone, {zone}: UTC is this time minus that offset",
        "实验室时区 {zone}：UTC 时间为此时间减去该时差",
    ),
    "hash_help": (
        "Shown short; select the cell and copy (Ctrl+C) for the whole value",
        "此处缩略显示；选中单元格并复制（Ctrl+C）即得完整值",
    ),
    "phase": ("Test phase", "测试阶段"),
    "interval_title": ("Reporting intervals per data type", "各数据类型的上报间隔"),
    "interval_s": ("Interval between reports (s)", "上报间隔（秒）"),
    "n_intervals": ("Number of intervals", "间隔个数"),
    "precision_title": ("Best location precision per data type", "各数据类型的最佳定位精度"),
    # the device page's charts (dashboards/charts/)
    "charts_title": ("Where its data goes, how often, how precisely", "数据去向、频率与精度"),
    "observations_unit": ("Observations", "观测次数"),
    "sankey_title": (
        "Personal data by type → organisation → country (band width: observations)",
        "个人数据：类型 → 组织 → 国家/地区（带宽 = 观测次数）",
    ),
    "sankey_legend": (
        "Bands from a data type: vermilion = sent in clear text, green = encrypted (TLS). "
        "Bands to a country: blue = first party, orange = third party, grey = party unknown.",
        "数据类型发出的带：朱红 = 明文发送，绿色 = 加密（TLS）。"
        "流向国家/地区的带：蓝色 = 第一方，橙色 = 第三方，灰色 = 归属不明。",
    ),
    "sankey_clear": ("sent in clear text", "明文发送"),
    "sankey_encrypted": ("encrypted (TLS)", "加密（TLS）"),
    "sankey_first": ("first party", "第一方"),
    "sankey_third": ("third party", "第三方"),
    "sankey_local": ("local network", "本地网络"),
    "sankey_unknown": ("unknown", "不明"),
    "map_title": (
        "Destination countries (circle size: flows; lines from the lab's country, red = cross-border)",
        "目的地国家/地区（圆大小 = 流数；线自实验室所在国家引出，红色 = 跨境）",
    ),
    "map_legend": ("Country", "国家/地区"),
    "map_home": ("Lab's country (home jurisdiction)", "实验室所在国家（本法域）"),
    "map_domestic": ("Destination at home", "境内目的地"),
    "map_abroad": ("Destination abroad (cross-border)", "境外目的地（跨境）"),
    "map_off": ("Too small for the map", "地图上过小无法显示"),
    "frequency_phase_title": (
        "Reporting frequency per data type and test phase (reports per hour)",
        "各数据类型在各测试阶段的上报频率（次/小时）",
    ),
    "reports_per_hour": ("Reports per hour", "每小时上报次数"),
    "n_reports": ("Reports", "上报次数"),
    "recipient": ("Recipient organisation", "接收组织"),
    "timeline_recipient_title": (
        "Observations over time by data type, coloured by recipient (test phases shaded)",
        "各数据类型的观测时间线，按接收方着色（阴影为测试阶段）",
    ),
    "precision_metres": ("Location precision (metres, log scale)", "定位精度（米，对数刻度）"),
    "precision_dest_title": (
        "Location precision per destination (metres; smaller is more precise)",
        "各目的地的定位精度（米；越小越精确）",
    ),
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
    "coverage_title": ("Encrypted traffic read", "加密流量解读情况"),
    "coverage_what": ("Encrypted traffic off the LAN", "局域网外的加密流量"),
    "coverage_encrypted": ("Encrypted", "加密"),
    "coverage_decrypted": ("Decrypted with session keys", "用会话密钥解密"),
    "coverage_unread": ("Still unread (no keys)", "仍无法解读（无密钥）"),
    "coverage_bytes": ("Bytes (both ways)", "字节（双向）"),
    "key_sources": ("Keys from", "密钥来源"),
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
    # findings grouped by fact, the device's verdict, the Overview's grid (issue 18, point 1)
    "problems_total": ("Problems", "问题数"),
    "problems_n": ("problems", "个问题"),
    "problems_by_severity": ("Problems by severity", "按严重程度的问题"),
    "findings_clauses": ("Findings (pack clauses)", "发现（各规则包条款）"),
    "problem": ("Problem", "问题"),
    "rules": ("Rules", "规则"),
    "packs": ("Packs", "规则包"),
    "requirements_short": ("Requirements", "要求"),
    "clauses_title": ("Packs and clauses that rule on it", "对此作出判定的规则包与条款"),
    "verdict_title": ("Verdict", "结论"),
    "verdict_line": ("{n} problems", "{n} 个问题"),
    "verdict_clean": ("No problem found", "未发现问题"),
    "identity_vendor": ("Vendor", "厂商"),
    "identity_model": ("Model", "型号"),
    "identity_firmware": ("Firmware", "固件"),
    "identity_ip": ("IP", "IP"),
    "more_subjects": ("also {n} more: {which}", "另有 {n} 项：{which}"),
    "n_of_kind": ("{n} problems", "{n} 个问题"),
    "evidence_of": ("Evidence of problem", "问题证据"),
    "evidence_hint": (
        "Each number opens the problem's findings, Wireshark's check and evidence packets.",
        "点击编号可查看该问题的发现、Wireshark 核查和证据数据包。",
    ),
    "open_device": ("Open device page", "打开设备页"),
    "top_problem": ("Top problem", "首要问题"),
    "page_of": ("Page of cards", "卡片页"),
    "cards_shown": ("cards {first}-{last} of {n}", "第 {first}-{last} 张卡片，共 {n} 张"),
    "check_sensitive_before_consent": ("Data before consent", "同意前收集"),
    "check_unnecessary_types": ("Data not needed", "非必要信息"),
    "check_frequency": ("High-frequency collection", "高频收集"),
    "check_declared_interval": ("More often than declared", "频率高于声明"),
    "check_precise_location": ("Precise location", "精确位置"),
    "check_home_location": ("Home location", "住址位置"),
    "check_background_upload": ("Background upload", "后台上传"),
    "check_audio_without_activation": ("Audio without activation", "未唤醒时上传音频"),
    "check_face_off_device": ("Face data off the device", "人脸数据离开设备"),
    "check_biometric": ("Biometric data", "生物识别信息"),
    "check_contacts": ("Contacts", "通讯录"),
    "check_identifiers_to_third_party": ("Identifiers shared", "设备标识共享"),
    "check_cleartext": ("Clear text", "明文传输"),
    "check_cross_border": ("Sent abroad", "出境传输"),
    "check_undeclared_third_party": ("Undeclared third party", "未声明的第三方"),
    "check_minors": ("Children's data", "儿童个人信息"),
    "check_after_withdrawal": ("After withdrawal", "撤回同意后"),
    "check_undeclared_types": ("Undeclared data type", "未声明的数据类型"),
    "check_telemetry_pi": ("Personal data in telemetry", "遥测中的个人信息"),
    "check_undocumented_sensor": ("Undocumented sensor", "未说明的传感器"),
    "check_finding": ("Finding", "发现"),
    # navigation and state (issue 18 point 4)
    "open": ("Open", "打开"),
    "device_link": ("Device page", "设备页面"),
    "finding_link": ("Finding", "发现"),
    "flows_link": ("Its flows", "相关流"),
    "evidence_link": ("Evidence", "证据"),
    "delete_ask": (
        "Delete {name} and everything derived from it? This cannot be undone.",
        "删除 {name} 及其所有派生数据？此操作无法撤销。",
    ),
    "delete_yes": ("Yes, delete", "确认删除"),
    "delete_no": ("Cancel", "取消"),
    "delete_cancelled": ("Nothing deleted.", "未删除任何内容。"),
    "upload_found": (
        "{what}: {name} ({cid}): {devices}, {flows}, {n}{tls}.",
        "{what}：{name}（{cid}）：{devices}，{flows}，{n}{tls}。",
    ),
    "n_devices": ("{n} device|{n} devices", "{n} 台设备"),
    "n_flows_of": ("{n} flow|{n} flows", "{n} 条流"),
    "n_findings_of": ("{n} finding|{n} findings", "{n} 条发现"),
    "upload_open": ("Open", "查看"),
    "live_every": ("Refreshes every {s} s", "每 {s} 秒自动刷新"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    "read_error": ("read error", "读取错误"),
    "choose": ("Choose options", "请选择"),
    "uploader_button": ("Upload", "上传"),
    "uploader_limit": ("200MB per file", "每个文件不超过 200 MB"),
    "capture_gone": ("A capture in the link is no longer stored: {ids}", "链接中的抓包已不存在：{ids}"),
}

# Values read from the store that a person reads as words (issue 18 point 4: "values such as
# severity, category, phase and data type too"): English shows them as stored, Chinese translates
# them. Data types, phases and device categories come from ``policies.wording`` (the findings'
# own wording); severities and verdicts from ``policies.verdicts`` (``level``).
VALUES: dict[str, dict[str, str]] = {
    "party": {"first": "第一方", "third": "第三方", "unknown": "未知", "local": "本地", "": "-"},
    "security": {
        "tls": "TLS 加密",
        "dtls": "DTLS 加密",
        "quic": "QUIC 加密",
        "none": "明文",
        "unknown": "未知",
    },
    "direction": {
        "outbound": "外发",
        "inbound": "传入",
        "local": "局域网内",
        "multicast": "组播",
        "broadcast": "广播",
    },
    "tcp_state": {
        "established": "已建立",
        "closed": "已关闭",
        "half_closed": "半关闭",
        "reset": "被重置",
        "rejected": "被拒绝",
        "syn_sent": "已发 SYN",
        "midstream": "中途开始",
        "": "-",
    },
    "status": {"live": "实时", "complete": "完整", "truncated": "已截断"},
    "attributed_by": {
        "mac": "MAC 地址",
        "bench-address": "测试台地址",
        "dhcp-lease": "DHCP 租约",
        "ndp": "NDP",
        "arp": "ARP",
        "local-address": "本地地址",
    },
    "category": {"unknown": "未知", "other": "其他", "phone": "手机", "gateway": "网关", "": "-"},
    "upload_kind": {"audio": "音频", "video": "视频", "image": "图像", "bulk": "大文件", "unknown": "未知"},
    "confidence": {"high": "高", "medium": "中", "low": "低"},
    "class": {"not_necessary": "非必要", "unlisted": "未列明", "necessary": "必要"},
    # a finding's subject when it is a moment rather than a destination (policies/checks)
    "subject": {"before consent": "同意前", "before guardian consent": "监护人同意前"},
    "precision": {"precise": "精确", "coarse": "粗略"},
    "key_source": {"tls-keylog": "TLS 密钥日志（SSLKEYLOGFILE）", "tls-dsb": "pcapng 解密密钥块（DSB）"},
}

# Keys of a finding's figures (the JSON shown on its card), in Chinese.
FIGURE_KEYS: dict[str, str] = {
    "subject": "对象", "values": "数值个数", "messages": "消息数", "types": "数据类型",
    "destination": "目的地", "protocols": "协议", "sensitive_types": "敏感数据类型",
    "sensitive_values": "敏感数值个数", "destinations": "目的地", "phases": "测试阶段",
    "data_type": "数据类型", "best_metres": "最佳精度（米）", "max_decimals": "最多小数位",
    "organisation": "组织", "category": "类别", "service_kind": "服务类型", "class": "必要性",
    "entry": "目录条目", "connections": "连接数", "accuracy_m": "精度（米）", "party": "关系方",
    "uploads": "上传次数", "upload_bytes": "上传字节", "consent_ns": "同意时间",
    "sdk_connections": "SDK 连接数", "sdk_destinations": "SDK 目的地",
    "seconds_before_consent": "同意前秒数", "countries_abroad": "境外国家/地区",
    "declared_interval_s": "声明的间隔（秒）", "median_gap_s": "间隔中位数（秒）", "reports": "上报次数",
    "candidate": "候选", "by_class_m": "按类别距离（米）", "nearest_m": "最近距离（米）",
    "within_m": "范围内（米）", "declaration": "声明", "guardian_consent_ns": "监护人同意时间",
}  # fmt: skip

# What a requirement compares with (``policies.requirements``: declaration, timeline), in Chinese.
NOTE_TERMS: dict[str, str] = {
    "the consent time": "同意时间",
    "the declared consent, given as a phase": "声明的同意时刻（以阶段标记）",
    "the guardian's consent, given as a phase": "监护人的同意时刻（以阶段标记）",
    "the declared telemetry fields": "声明的遥测字段",
    "the documented sensors": "文档列明的传感器",
}

# A requirement's note (``policies.verdicts.requirement_verdict``) in Chinese: its English forms.
_NOTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(\d+) findings?, the worst (\w+)$"), "{0} 条发现，最严重：{1}"),
    (re.compile(r"(\d+) findings? at info only"), "{0} 条仅供参考的发现：需人工判断是否符合"),
    (re.compile(r"its rules raised nothing(?:; (\d+) encrypted flows? unread)?$"), "规则未发现问题{0}"),
    (re.compile(r"no rule for this device category"), "本次运行的规则包中没有适用于此设备类别的规则"),
    (re.compile(r"no assessment stored"), "尚无评估结果：请运行 `tapaudit assess`"),
    (re.compile(r"needs the product's declaration \((.*)\)$"), "需要产品声明（{0}）"),
    (
        re.compile(r"needs the test phases marked \((.*?)\)"),
        "需要标记测试阶段（{0}）：用 `--phases` 回放后重新评估",
    ),
    (
        re.compile(r"needs one of these phases marked: ([^(]*) \("),
        "需要标记以下阶段之一：{0}（阶段文件，`replay --phases`），然后重新评估",
    ),
    (re.compile(r"no readable traffic"), "没有可读流量：所有流均加密或未被解析"),
    (
        re.compile(r"(\d+) encrypted uploads? \((.*?)\) in (.*?) that"),
        "{2} 中有 {0} 次加密上传（{1}），无发现可解释：规则无法读取其内容",
    ),
)


def lang() -> str:
    value = st.session_state.get("lang", "en")
    return value if value in LANGS else "en"


def t(key: str) -> str:
    """The label ``key`` in the chosen language (the key itself when unknown)."""
    pair = LABELS.get(key)
    if pair is None:
        return key
    return pair[1] if lang() == "zh" else pair[0]


def count(key: str, n: int) -> str:
    """``n`` with its noun: the label's "one|other" forms (English), or its one form (Chinese)."""
    one, _, other = t(key).partition("|")
    return (other if other and n != 1 else one).format(n=f"{n:,}")


def level(value: str) -> str:
    """A severity or a verdict in the chosen language (``policies.verdicts.LABELS``)."""
    return verdicts.label(value, lang()) if value else "-"


def value(kind: str, raw: Any) -> str:
    """A stored value of this kind (``VALUES``'s kinds, and "data_type", "phase", "category", "bool",
    "level") as the chosen language shows it; English shows it as stored, Chinese translates what it
    knows and leaves data (host names, organisations) as they are."""
    text = "" if raw is None else str(raw)
    if kind == "level":
        return level(text)
    if lang() != "zh":
        return (
            {"1": "yes", "0": "no", "True": "yes", "False": "no"}.get(text, text) if kind == "bool" else text
        )
    if kind == "bool":
        return t("yes") if text in ("1", "True", "true") else t("no")
    if kind == "data_type":
        return _type_zh(text) if text else "-"
    if kind == "phase":
        return PHASE_TEXT.get(text, ("", text))[1] if text else "-"
    if kind == "category" and text in CATEGORY_TEXT:
        return CATEGORY_TEXT[text][1]
    return VALUES.get(kind, {}).get(text, text)


_HASHED = re.compile(r"^(.+) \((md5|sha1|sha256)\)$")  # a type found hashed: "email (sha256)"


def _type_zh(text: str) -> str:
    """A data type in Chinese (``policies.wording.type_zh``), with its hash ("email (sha256)") or its
    precision class ("location:precise") kept."""
    hashed = _HASHED.match(text)
    if hashed:
        return f"{_type_zh(hashed.group(1))}（{hashed.group(2)}）"
    base, _, sub = text.partition(":")
    if sub and base == "location":
        return f"{type_zh(base)}（{VALUES['precision'].get(sub, sub)}）"
    return type_zh(text) or text


# The observer's summaries of values too long to quote (parsers/detect: records.py, media.py), as
# evidence excerpts show them.
_EXCERPTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(\d+) floats$"), "{0} 个浮点数"),
    (re.compile(r"^(\d+) packages$"), "{0} 个应用包名"),
    (re.compile(r"^(\d+) phone numbers$"), "{0} 个电话号码"),
    (re.compile(r"^(\d+) vCards$"), "{0} 张 vCard 名片"),
    (re.compile(r"^audio blob$"), "音频数据块"),
    (re.compile(r"^(\d+) access points$"), "{0} 个 Wi-Fi 接入点"),
)

# An upload burst's reason (``appliance.measures.upload_kinds.classify_burst``): its shape, then why.
_SHAPE = re.compile(
    r"^(\d+) KiB in ([\d.]+) s \(([\d.]+) kB/s, (\d+)-byte packets( ±\d+ %)?, (\d+)/s\): (.*)$"
)
_WHY: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^frames of one size at (\d+) kbit/s: a voice codec$"), "{0} kbit/s 的等长帧：语音编码"),
    (
        re.compile(r"^small frames at (\d+) kbit/s: speech \(Opus-like\)$"),
        "{0} kbit/s 的小帧：语音（类似 Opus）",
    ),
    (re.compile(r"^chunks of nearly one size streamed one way"), "单向传输的近等长数据块：语音指令"),
    (re.compile(r"^datagrams near the path limit"), "以视频码率持续发送接近路径上限的数据报"),
    (
        re.compile(r"^full segments sustained at a video bit rate"),
        "以视频码率持续发送满长分段（或较慢的文件上传）",
    ),
    (re.compile(r"^no media shape fits$"), "不符合任何媒体特征"),
    (re.compile(r"^full segments in one short burst"), "一次短促突发中的满长分段：像照片或同样大小的文件"),
    (re.compile(r"^full segments, like a file"), "满长分段，像文件；从特征无法判断内容"),
    (re.compile(r"^packet sizes not measured"), "未测量包长（schema 11 之前存储：请重新回放以分类）"),
)


def reason(text: str) -> str:
    """An upload burst's reason in the chosen language (as written when its form is not known)."""
    m = _SHAPE.match(text) if lang() == "zh" else None
    if m is None:
        return text
    kib, secs, rate, size, spread, pps, why = m.groups()
    said = next((zh.format(*w.groups()) for p, zh in _WHY for w in [p.match(why)] if w), why)
    return f"{kib} KiB，{secs} 秒（{rate} kB/s，每包 {size} 字节{spread or ''}，{pps} 包/秒）：{said}"


def excerpt(text: str) -> str:
    """An evidence excerpt: a masked value as stored, or the observer's summary in the chosen language."""
    if lang() == "zh":
        for pattern, zh in _EXCERPTS:
            m = pattern.match(text)
            if m:
                return zh.format(*m.groups())
    return text


def subject(raw: Any) -> str:
    """A problem's subject as the chosen language shows it: a condition the checks name in words
    ("before consent", and "before consent:HOST") translated, a host or data type left as data."""
    text = "" if raw is None else str(raw)
    head, sep, rest = text.partition(":")
    if lang() != "zh" or head not in VALUES["subject"]:
        return text
    return VALUES["subject"][head] + (f"：{rest}" if sep else "")


def values(kind: str, raw: Any, sep: str = ", ") -> str:
    """A list (or a comma-separated text) of values of one kind, each translated."""
    items = [s for s in str(raw).split(",") if s] if isinstance(raw, str) else list(raw or [])
    shown = dict.fromkeys(value(kind, i.strip()) for i in items)  # two spellings, one word: once
    return (sep if lang() != "zh" else "、").join(shown) or "-"


_FIGURE_VALUE_KINDS = ("data_type", "phase", "party", "class", "category", "security")


def _figure_value(raw: Any) -> Any:
    if isinstance(raw, list):
        return [_figure_value(v) for v in raw]
    if isinstance(raw, dict):
        return figures(raw)
    if isinstance(raw, bool):
        return value("bool", raw)
    if isinstance(raw, str):
        moment, colon, rest = raw.partition(":")
        if moment in VALUES["subject"]:  # "before consent:api.example.com"
            return VALUES["subject"][moment] + colon + rest
        for kind in _FIGURE_VALUE_KINDS:
            shown = value(kind, raw)
            if shown != raw and shown != "-":
                return shown
    return raw


def figures(raw: Any) -> Any:
    """A finding's figures (JSON text or its object) with keys and known values in the chosen
    language: they are shown on the finding's card."""
    obj = json.loads(raw or "{}") if isinstance(raw, str) else raw
    if lang() != "zh" or not isinstance(obj, dict):
        return obj
    return {FIGURE_KEYS.get(str(k), str(k)): _figure_value(v) for k, v in obj.items()}


def note(text: str) -> str:
    """A requirement's note in the chosen language (``_NOTES``; as written when no form matches)."""
    if lang() != "zh":
        return text
    for pattern, zh in _NOTES:
        m = pattern.search(text)
        if m:
            groups = [g or "" for g in m.groups()]
            if "worst" in pattern.pattern:
                groups[1] = level(groups[1])
            if "raised nothing" in pattern.pattern:
                groups[0] = f"；{groups[0]} 条加密流未读" if groups[0] else ""
            elif "phases marked:" in pattern.pattern:
                groups[0] = values("phase", groups[0])
            elif "encrypted upload" in pattern.pattern:
                groups[1], groups[2] = values("upload_kind", groups[1]), values("phase", groups[2])
            else:
                groups = [NOTE_TERMS.get(g, g) for g in groups]
            return zh.format(*groups)
    return text
