"""TR-11's interception test: the device accepted what it should have refused (issue 19).

The interceptor on the lab gateway (``tapaudit intercept``) answers each device's first
connections to a server name with a forged certificate or a TLS 1.0/1.1-only server, as IoTLS
(Paracha et al., IMC 2021) and certmitm do; ``facts.tls_tests`` holds each outcome. A device that
sent application data over a forged certificate (self-signed, another host's, from an untrusted
CA, expired, issued by a leaf) lets anyone on the path read and change what it sends: the spec's
TR-11 counts personal data under an accepted MITM as a fail. Accepting TLS 1.0 or 1.1 (deprecated
by RFC 8996) is a downgrade the device should refuse.
"""

from __future__ import annotations

from policies.checks.common import _finding, param
from policies.declaration import Declaration
from policies.model import Facts, Finding, Rule
from policies.wording import plural

CERT_TESTS = ("self-signed", "wrong-host", "untrusted-ca", "expired", "leaf-as-ca")
ZH = {
    "self-signed": "自签名证书",
    "wrong-host": "其他主机名的证书",
    "untrusted-ca": "不受信任 CA 签发的证书",
    "expired": "过期证书",
    "leaf-as-ca": "由终端证书签发的证书",
    "legacy-tls": "仅支持 TLS 1.0/1.1 的服务器",
}


def tls_test_accepted(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """One finding per server name for which the device accepted any of ``tests`` (params; the
    forged certificates by default): which ones, out of how many run, with the tests' flows."""
    tests = [str(t) for t in param(rule, "tests", list(CERT_TESTS))]
    out = []
    names = sorted({str(t["server_name"]) for t in facts.tls_tests})
    for name in names:
        ran = [t for t in facts.tls_tests if t["server_name"] == name and t["test"] in tests]
        took = [t for t in ran if t["outcome"] == "accepted"]
        if not took:
            continue
        kinds = sorted({str(t["test"]) for t in took}, key=lambda k: tests.index(k))
        versions = sorted({str(t["tls_version"]) for t in took if t["tls_version"]})
        legacy = kinds == ["legacy-tls"]
        what = "a TLS 1.0/1.1-only server" if legacy else "forged certificates (" + ", ".join(kinds) + ")"
        over = f" over {'/'.join(versions)}" if legacy and versions else ""
        flows = [{"flow_id": t["flow_id"], "first_ns": t["ts_ns"]} for t in took if int(t["flow_id"])]
        out.append(
            _finding(
                rule,
                facts,
                f"accepted {what} from the lab interceptor for {name} and sent application data{over}"
                f" ({plural(len(took), 'test')} accepted of {len(ran)} run): anyone on the path can read it",
                f"对 {name} 接受了实验室拦截器提供的{'、'.join(ZH[k] for k in kinds)}并发送了应用数据"
                f"（共 {len(ran)} 项测试，接受 {len(took)} 项），链路上的任何人都可读取其内容",
                {"subject": f"tls-tests:{name}", "destination": name, "accepted": kinds,
                 "tests_run": len(ran), "tests_accepted": len(took), "versions": versions},
                flows=flows,
            )
        )  # fmt: skip
    return out
