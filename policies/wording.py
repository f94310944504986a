"""How findings word what was measured, in English and Chinese: data types, phases, device
categories, organisations, durations, distances and counts.

Chinese statements get a space between Han characters and Latin letters or digits
(``zh_spaced``), as technical Chinese is set, whatever spacing a template left.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from policies.catalog import load_catalog

Row = dict[str, Any]


TYPE_TEXT: dict[str, tuple[str, str]] = {
    "location": ("location", "位置信息"),
    "wifi_scan": ("Wi-Fi scan lists", "Wi-Fi 扫描列表"),
    "cell_tower": ("cell-tower IDs", "基站信息"),
    "imei": ("IMEI", "IMEI"),
    "meid": ("MEID", "MEID"),
    "imsi": ("IMSI", "IMSI"),
    "iccid": ("ICCID", "ICCID"),
    "mac": ("MAC address", "MAC 地址"),
    "serial": ("serial number", "序列号"),
    "android_id": ("Android ID", "Android ID"),
    "oaid": ("OAID", "OAID"),
    "idfa": ("advertising ID (IDFA/GAID)", "广告标识符（IDFA/GAID）"),
    "phone": ("phone number", "手机号码"),
    "email": ("e-mail address", "电子邮箱地址"),
    "name": ("name", "姓名"),
    "address": ("address", "地址"),
    "birthday": ("birth date", "出生日期"),
    "cn_id": ("ID-card number", "身份证号码"),
    "contacts": ("contact list", "通讯录"),
    "app_list": ("installed-app list", "已安装应用列表"),
    "audio": ("audio", "音频"),
    "video": ("video", "视频"),
    "image": ("images", "图像"),
    "face_template": ("face templates", "人脸特征模板"),
    "voiceprint": ("voiceprint", "声纹"),
    "fingerprint": ("fingerprint templates", "指纹模板"),
    "vein": ("vein templates", "指静脉模板"),
    "health:heart_rate": ("heart rate", "心率"),
    "health:spo2": ("SpO₂", "血氧饱和度"),
    "health:steps": ("step count", "步数"),
    "health:sleep": ("sleep data", "睡眠数据"),
    "health:blood_pressure": ("blood pressure", "血压"),
    "health:temperature": ("body temperature", "体温"),
}


PHASE_TEXT: dict[str, tuple[str, str]] = {
    "boot": ("boot", "开机"),
    "pairing": ("pairing", "配对"),
    "setup": ("setup", "初始设置"),
    "consent": ("consent", "同意"),
    "idle": ("idle", "空闲"),
    "feature_on": ("feature-on", "功能开启"),
    "feature_off": ("feature-off", "功能关闭"),
    "background": ("background", "后台"),
    "mute": ("mute", "静音"),
    "privacy_mode": ("privacy-mode", "隐私模式"),
    "withdraw": ("withdrawal", "撤回同意"),
    "reset": ("reset", "恢复出厂设置"),
    "enrol": ("enrolment", "录入"),
    "enrolment": ("enrolment", "录入"),
    "voice_enrol": ("voice-enrolment", "声纹录入"),
    "voiceprint_enrol": ("voice-enrolment", "声纹录入"),
    "unlock": ("unlock", "开锁"),
    "recognition": ("recognition", "识别"),
    "face_login": ("face-login", "人脸登录"),
    "face_unlock": ("face-unlock", "人脸开锁"),
    "consent_withdrawn": ("withdrawal", "撤回同意"),
    "delete": ("deletion", "删除数据"),
    "account_deleted": ("account-deletion", "注销账号"),
    "unmarked": ("unmarked", "未标记"),  # before a capture's first mark (appliance.lab.phases.UNMARKED)
}


KIND_ZH = {
    "analytics": "统计分析",
    "crash": "崩溃报告",
    "attribution": "归因",
    "advertising": "广告",
    "push": "推送",
    "location": "定位",
    "platform": "物联网平台",
    "cloud": "云",
    "speech": "语音",
    "av": "音视频",
    "payment": "支付",
    "social": "社交",
}


CATEGORY_TEXT: dict[str, tuple[str, str]] = {
    "watch": ("an adult watch", "成人手表"),
    "child_watch": ("a child watch", "儿童手表"),
    "speaker": ("a smart speaker", "智能音箱"),
    "door_lock": ("a door lock", "智能门锁"),
    "camera": ("a camera", "摄像头"),
    "learning_tablet": ("a learning tablet", "学习平板"),
}


_CJK_LATIN = re.compile(r"([\u4e00-\u9fff])([A-Za-z0-9(])")


_LATIN_CJK = re.compile(r"([A-Za-z0-9%)])([\u4e00-\u9fff])")


def zh_spaced(text: str) -> str:
    """Chinese with a space between Han characters and Latin letters or digits, as technical
    Chinese is set ("发送了 3 次 IMEI"), whatever spacing the template left."""
    return _LATIN_CJK.sub(r"\1 \2", _CJK_LATIN.sub(r"\1 \2", text))


def base_type(data_type: str) -> str:
    """persona:imei -> imei: a value matched against the test persona is that kind of value."""
    return data_type.split(":", 1)[1] if data_type.startswith("persona:") else data_type


def detail(o: Row) -> dict[str, Any]:
    raw = o.get("detail")
    if isinstance(raw, dict):
        return raw
    try:
        d = json.loads(str(raw or "{}"))
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


def hashed(o: Row) -> str:
    """The hash a persona match was found under (md5, sha1, sha256), or ""."""
    form = str(detail(o).get("form", ""))
    return form.split("(", 1)[0] if form.startswith(("md5(", "sha1(", "sha256(")) else ""


def type_en(t: str) -> str:
    b = base_type(t)
    return TYPE_TEXT.get(b, TYPE_TEXT.get(t, (b.replace("health:", "health: ").replace("_", " "), "")))[0]


def type_zh(t: str) -> str:
    b = base_type(t)
    return TYPE_TEXT.get(b, ("", b.replace("health:", "健康数据：")))[1]


def types_en(types: Iterable[str]) -> str:
    return ", ".join(dict.fromkeys(type_en(t) for t in sorted(types)))


def types_zh(types: Iterable[str]) -> str:
    return "、".join(dict.fromkeys(type_zh(t) for t in sorted(types)))


def phase_en(p: str) -> str:
    return PHASE_TEXT.get(p, (p.replace("_", " "), p))[0]


def phase_zh(p: str) -> str:
    return PHASE_TEXT.get(p, (p, p))[1]


def phases_en(ps: Iterable[str]) -> str:
    return ", ".join(phase_en(p) for p in dict.fromkeys(ps))


def phases_zh(ps: Iterable[str]) -> str:
    return "、".join(phase_zh(p) for p in dict.fromkeys(ps))


def category_en(c: str) -> str:
    return CATEGORY_TEXT.get(c, (f"a {c.replace('_', ' ')}", c))[0]


def category_zh(c: str) -> str:
    return CATEGORY_TEXT.get(c, ("", c))[1]


def secs_en(s: float) -> str:
    if s < 600:
        return f"{s:.3g} s" if s < 10 else f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def secs_zh(s: float) -> str:
    if s < 600:
        return f"{s:.3g} 秒" if s < 10 else f"{s:.0f} 秒"
    if s < 5400:
        return f"{s / 60:.0f} 分钟"
    return f"{s / 3600:.1f} 小时"


def metres_en(m: float) -> str:
    return f"{m / 1000:.1f} km" if m >= 1000 else f"{m:.3g} m" if m < 10 else f"{m:.0f} m"


def metres_zh(m: float) -> str:
    return f"{m / 1000:.1f} 千米" if m >= 1000 else f"{m:.3g} 米" if m < 10 else f"{m:.0f} 米"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def times_en(n: int) -> str:
    return "1 time" if n == 1 else f"{n} times"


def size(n: float) -> str:
    for unit, div in (("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{n / div:.3g} {unit}"
    return f"{n:.0f} B"


def org_en(oid: str) -> str:
    """An organisation as a report names it (the catalogue's name, via ``load_catalog``), or its id."""
    return load_catalog().names.get(oid) or oid or "an unknown organisation"


def org_zh(oid: str) -> str:
    return load_catalog().names_zh.get(oid) or oid or "未知机构"


def location_note(obs: list[Row]) -> tuple[str, str, dict[str, Any]]:
    """How precise the locations among ``obs`` were: (" with 6 decimals (0.111 m)", zh, figures)."""
    locs = [o for o in obs if base_type(str(o["data_type"])) == "location"]
    if not locs:
        return "", "", {}
    dec = max(int(o.get("decimals", -1) if o.get("decimals") is not None else -1) for o in locs)
    metres = [float(o.get("metres") or 0) for o in locs if float(o.get("metres") or 0) > 0]
    accs = [float(detail(o)["accuracy_m"]) for o in locs if detail(o).get("accuracy_m") is not None]
    parts_en: list[str] = []
    parts_zh: list[str] = []
    figs: dict[str, Any] = {"max_decimals": dec}
    if metres:
        figs["best_metres"] = min(metres)
        parts_en.append(metres_en(min(metres)))
        parts_zh.append(metres_zh(min(metres)))
    if accs:
        figs["accuracy_m"] = min(accs)
        parts_en.append(f"accuracy {min(accs):.0f} m")
        parts_zh.append(f"精度 {min(accs):.0f} 米")
    if dec < 0:
        return "", "", figs
    en = f" with {dec} decimals" + (f" ({', '.join(parts_en)})" if parts_en else "")
    zh = f"（{dec} 位小数" + (f"，{'，'.join(parts_zh)}" if parts_zh else "") + "）"
    return en, zh, figs


def what_sent(obs: list[Row]) -> tuple[str, str, list[str]]:
    """The data types among ``obs`` as a report lists them, hashed persona matches named as such."""
    en: dict[str, None] = {}
    zh: dict[str, None] = {}
    kinds: dict[str, None] = {}
    for o in sorted(obs, key=lambda o: str(o["data_type"])):
        t = str(o["data_type"])
        algo = hashed(o)
        kinds[base_type(t) + (f" ({algo})" if algo else "")] = None
        if algo:
            en[f"{type_en(t)} as {algo.upper()}"] = None
            zh[f"{type_zh(t)}的 {algo.upper()} 哈希值"] = None
        else:
            en[type_en(t)] = None
            zh[type_zh(t)] = None
    return ", ".join(en), "、".join(zh), list(kinds)


def kind_en(kind: str) -> str:
    return f"{kind} service" if kind else "service"


def kind_zh(kind: str) -> str:
    return f"{KIND_ZH.get(kind, kind)}服务" if kind else "服务"


def org_of(rows: list[Row]) -> str:
    """The organisation of the first row, as a report names it."""
    return org_en(str(rows[0].get("organisation") or ""))


def org_of_zh(rows: list[Row]) -> str:
    return org_zh(str(rows[0].get("organisation") or ""))
