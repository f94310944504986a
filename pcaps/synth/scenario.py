"""What each lab product declares: the maker's word the findings are judged against.

A lab receives, with each product, what its maker says it collects, why, how often
and for whom (privacy policy, SDK list, consent screens). These declarations are
written for the synthetic lab with deliberate gaps against what the generator makes
the devices send (``lab.py``, ``personal.py``, ``encrypted.py``), so that the rule
packs have something true to find; the gaps are listed in each declaration's
``gaps`` comment list and become the expected findings of the ground truth.
"""

from __future__ import annotations

from typing import Any

HEALTH = ["health:heart_rate", "health:spo2", "health:steps", "health:sleep", "health:blood_pressure",
          "health:temperature"]  # fmt: skip

# Kinds of gap, and the findings each must raise in the packs: (rule id, severity). This is
# what each pack says of such a gap (its rules' requirements and severities), written once.
GAPS: dict[str, tuple[tuple[str, str], ...]] = {
    "sensitive_in_clear": (("GBT-04", "fail"), ("ETSI-5.8-2", "fail"), ("EN18031-SCM", "fail")),
    "other_pi_in_clear": (("GBT-04", "medium"), ("ETSI-5.8-1", "medium"), ("EN18031-SCM", "high")),
    "other_pi_in_clear_beside_sensitive": (("ETSI-5.8-1", "medium"),),  # the others judge the message
    "pi_before_consent": (("CN25-01", "high"), ("ETSI-6-2", "high")),
    "identifiers_before_consent": (("CN25-11", "high"),),
    "identifiers_to_third_party": (("CN25-11", "high"),),
    "child_identifiers": (("COPPA-01", "high"),),
    "child_location_before_guardian": (("CN25-14", "high"), ("COPPA-03", "high")),
    "child_analytics": (("CN25-14", "high"), ("COPPA-04", "high")),
    "not_necessary": (("CN25-02", "medium"), ("GBT-01", "medium")),
    "interval_below_declared": (("CN25-04", "medium"), ("GBT-03", "medium")),
    "undeclared_third_party_with_pi": (("CN25-13", "medium"), ("ETSI-6-1", "medium")),
    "undeclared_third_party_encrypted": (("CN25-13", "low"), ("ETSI-6-1", "low")),
    "undeclared_type": (("ETSI-6-5", "medium"),),
    "undocumented_sensor": (("ETSI-5.8-3", "high"),),
    "face_off_device": (("CN25-08", "fail"), ("GBT-05", "fail")),
    "precise_location_without_separate_consent": (("CN25-05", "high"),),
    "contacts_without_feature": (("CN25-10", "medium"),),
    "telemetry_with_pi": (("ETSI-6-4", "low"),),
    "location_at_home": (("CN25-16", "medium"),),
}

# product key (lab.hosts) -> declaration (policies.declaration format) and its deliberate gaps
DECLARATIONS: dict[str, dict[str, Any]] = {
    "watch": {
        "product": "Huawei Watch GT (lab)",
        "data_types": {
            **{t: {"purpose": "health sync", "features": ["health"]} for t in HEALTH},
            "location": {"purpose": "workout track", "interval_s": 30, "features": ["workout"]},
        },
        "destinations": ["huawei", "hicloud.com", "huawei.com", "myhuaweicloud.com"],
        "sdks": [],
        "features": ["health", "workout"],
        "consent": {"phase": "boot"},
        "separate_consent": [*HEALTH, "location"],
        "expect": ["sensitive_in_clear", "undeclared_third_party_encrypted", "location_at_home"],
        "gaps": [
            "health readings and location sent in clear text (HTTP, MQTT on 1883)",
            "a GPS track that starts at the tester's home (the bench persona's home): the first fixes "
            "place the person there",
            "Umeng analytics contacted but no SDK declared (encrypted: no personal data seen)",
        ],
    },
    "child_watch": {
        "product": "imoo Kids Watch Z7",
        "data_types": {
            "location": {"purpose": "guardian location lookup", "interval_s": 600, "features": ["locate"]},
            "imei": {"purpose": "device binding"},
            "phone": {"purpose": "watch number for guardian calls"},
        },
        "destinations": ["bbk", "imoo.com"],
        "sdks": ["autonavi", "amap.com"],
        "features": ["locate", "voice_chat"],
        "consent": {"phase": "idle"},
        "guardian_consent": {"phase": "idle"},
        "separate_consent": ["location"],
        "expect": [
            "sensitive_in_clear",
            "pi_before_consent",
            "identifiers_before_consent",
            "identifiers_to_third_party",
            "child_identifiers",
            "child_location_before_guardian",
            "not_necessary",
            "interval_below_declared",
            "undeclared_third_party_with_pi",
            "undeclared_type",
            "location_at_home",
        ],
        "gaps": [
            "IMEI, IMSI, ICCID, MEID, phone number and location sent at boot, before (guardian) consent",
            "its locations are within 50 m of the child's home (the bench persona's home)",
            "location every 120 s (MQTT) and 100 s in feature_on against a declared 600 s",
            "location, IMEI and phone sent in clear text",
            "Wi-Fi scan lists, cell towers, IMSI, ICCID, MEID collected but not declared",
            "Tencent location services receive the IMEI and location but are not declared",
            "the IMEI goes to third parties (Amap, Tencent)",
        ],
    },
    "speaker": {
        "product": "Xiaomi Smart Speaker LX06",
        "data_types": {"audio": {"purpose": "voice commands after the wake word", "features": ["voice"]}},
        "destinations": ["xiaomi", "mi.com", "xiaomi.com", "xiaomi.net"],
        "sdks": [],
        "features": ["voice", "weather"],
        "consent": {"phase": "boot"},
        "expect": ["sensitive_in_clear", "other_pi_in_clear", "undeclared_type"],
        "gaps": [
            "voice audio sent in clear text",
            "a 2-decimal (city-level) location for the weather, not declared",
        ],
    },
    "door_lock": {
        "product": "Aqara Smart Lock D100",
        "data_types": {"mac": {"purpose": "device status report"}},
        "destinations": ["lumi", "aqara.cn", "aqara.com"],
        "sdks": [],
        "features": ["remote_unlock", "face_unlock"],
        "consent": {"phase": "boot"},
        "separate_consent": [],
        "expect": [
            "face_off_device",
            "sensitive_in_clear",
            "other_pi_in_clear",
            "identifiers_to_third_party",
            "undeclared_third_party_with_pi",
            "undocumented_sensor",
            "undeclared_type",
        ],
        "gaps": [
            "face templates leave the lock (to face.aqara.cn) without separate consent",
            "its MAC goes to Huawei's IoT platform, a third party not declared, over CoAP without DTLS",
        ],
    },
    "camera": {
        "product": "EZVIZ C6 camera",
        "data_types": {
            "video": {"purpose": "cloud recording", "features": ["cloud_recording"]},
            "serial": {"purpose": "device binding"},
        },
        "destinations": ["hikvision", "ys7.com", "ezviz.com"],
        "sdks": [],
        "features": ["cloud_recording", "motion_alerts"],
        "consent": {"phase": "boot"},
        "separate_consent": ["video"],
        "expect": [
            "sensitive_in_clear",
            "other_pi_in_clear_beside_sensitive",
            "undocumented_sensor",
            "undeclared_type",
        ],
        "gaps": [
            "motion snapshots (images) uploaded, not declared",
            "images, video and the serial sent in clear text",
        ],
    },
    "learning_tablet": {
        "product": "iFLYTEK Learning Tablet T10",
        "data_types": {
            "phone": {"purpose": "registered mobile number"},
            "audio": {"purpose": "spoken-language scoring", "features": ["speech"]},
            "image": {"purpose": "homework photos", "features": ["homework"]},
            "serial": {"purpose": "device binding"},
            "email": {"purpose": "account"},
        },
        "destinations": ["iflytek", "xfyun.cn", "iflytek.com"],
        "sdks": ["tencent"],
        "features": ["speech", "homework"],
        "consent": {"phase": "idle"},
        "guardian_consent": {"phase": "idle"},
        "separate_consent": ["audio", "image"],
        "expect": [
            "sensitive_in_clear",
            "pi_before_consent",
            "precise_location_without_separate_consent",
            "identifiers_to_third_party",
            "child_identifiers",
            "child_analytics",
            "not_necessary",
            "contacts_without_feature",
            "undeclared_third_party_with_pi",
            "undeclared_third_party_encrypted",
            "undeclared_type",
            "telemetry_with_pi",
            "location_at_home",
        ],
        "gaps": [
            "the child's ID-card number, contacts and phone sent at boot, before (guardian) consent",
            "Umeng analytics and Getui receive identifiers and hashed phone/e-mail: undeclared third "
            "parties, analytics on a child's device",
            "an installed-app list and a contact list collected (not necessary)",
            "precise location (GCJ-02, BD-09) collected, not declared: at the child's home",
            "personal data sent in clear text",
        ],
    },
}


def declarations(hosts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """File name -> declaration document, each naming the MAC of the device it covers."""
    out = {}
    for key, doc in DECLARATIONS.items():
        rest = {k: v for k, v in doc.items() if k not in ("product", "gaps", "expect")}
        out[f"{key}.yaml"] = {"product": doc["product"], "devices": [hosts[key].mac], **rest}
    return out


def expected_findings(hosts: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings above info the lab must raise: per device, the rules its gaps call for."""
    out = []
    for key, doc in DECLARATIONS.items():
        seen = set()
        for gap in doc["expect"]:
            for rule, severity in GAPS[gap]:
                if (rule, severity) not in seen:
                    seen.add((rule, severity))
                    out.append({"device": hosts[key].mac, "rule": rule, "severity": severity, "reason": gap})
    return out
