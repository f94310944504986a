"""The dashboard's labels in English and Chinese; the sidebar's language switch picks one."""

from __future__ import annotations

import streamlit as st

LANGS = ("en", "zh")
LANG_NAMES = {"en": "English", "zh": "中文"}

# key: (English, Chinese)
LABELS: dict[str, tuple[str, str]] = {
    "app_title": ("tapaudit dashboard", "tapaudit 仪表盘"),
    "language": ("Language", "语言"),
    "page": ("Page", "页面"),
    "captures": ("Captures", "抓包"),
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
    "no_findings": ("No findings (run `tapaudit assess`).", "没有发现（请运行 `tapaudit assess`）。"),
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
