"""The report as ONE self-contained HTML file: inline CSS, charts as inline SVG data, no external URL.

The same HTML is the PDF's source (``appliance.report.pdf``): its ``@page`` rules give A4
pages with page numbers, and every table wraps (long ids break anywhere) so nothing overflows.
"""

from __future__ import annotations

import base64
from typing import Any

import jinja2
from markupsafe import Markup, escape

from appliance.format import fmt_bytes, fmt_secs, fmt_ts
from appliance.report import charts
from appliance.report.data import ReportData, figure_text
from appliance.report.fonts import css_families
from policies.verdicts import SEVERITIES
from policies.wording import plural

CSS = """
@page {
  size: A4;
  margin: 16mm 14mm 17mm 14mm;
  @top-left { content: "tapaudit · {{ head }}"; font-size: 7pt; color: #666; }
  @top-right { content: "{{ r.generated_at }}"; font-size: 7pt; color: #666; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 7.5pt; color: #444; }
  @bottom-left { content: "Personal-data traffic test report · 个人信息流量测试报告"; font-size: 7pt; color: #666; }
}
html { font-family: {{ fonts }}; font-size: 8.6pt; line-height: 1.38; color: #1b1b1b; }
@media screen { body { max-width: 62rem; margin: 1.5rem auto; padding: 0 1rem; font-size: 10pt; } }
h1 { font-size: 16pt; margin: 0 0 .2rem; }
h1 .zh { display: block; font-size: 12pt; font-weight: normal; color: #333; }
h2 { font-size: 12pt; margin: 1.2rem 0 .4rem; padding-bottom: .15rem; border-bottom: 2px solid #2d4a6b;
     break-after: avoid; page-break-after: avoid; }
h2 .zh, h3 .zh { font-weight: normal; color: #444; font-size: .9em; margin-left: .4em; }
h3 { font-size: 10pt; margin: .9rem 0 .3rem; break-after: avoid; page-break-after: avoid; }
p { margin: .25rem 0 .45rem; }
.sub { color: #444; }
table { width: 100%; border-collapse: collapse; margin: .3rem 0 .8rem; }
th, td { border-bottom: 1px solid #d8dde3; padding: 2px 4px; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
th { background: #eef2f6; font-weight: bold; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
td.n { text-align: right; white-space: nowrap; }
th.n { text-align: right; }
td.t { white-space: nowrap; }
.dom { overflow-wrap: anywhere; }
table.dense { font-size: .88em; }
.nw { white-space: nowrap; }
table.kv th { width: 28%; background: none; font-weight: bold; color: #333; }
.id, code { font-family: "DejaVu Sans Mono", monospace; font-size: .86em; overflow-wrap: anywhere; }
.id { word-break: break-all; }
.muted { color: #666; }
.badge { display: inline-block; padding: 0 .45em; border-radius: 3px; font-weight: bold; font-size: .9em;
         white-space: nowrap; }
.v-fail { background: #7a0010; color: #fff; } .v-high { background: #c62828; color: #fff; }
.v-medium { background: #ef8a00; color: #fff; } .v-low { background: #f3d34a; color: #222; }
.v-info { background: #9ab7d3; color: #111; } .v-pass { background: #2e7d32; color: #fff; }
.v-not-assessed { background: #e0e0e0; color: #333; }
.finding { border: 1px solid #ccd3da; border-left: 5px solid #2d4a6b; padding: .3rem .6rem; margin: .4rem 0 .7rem; }
.finding h3 { margin-top: .2rem; }
.figures { color: #222; }
.finding.s-fail, .finding.s-high { border-left-color: #c62828; }
.finding.s-medium { border-left-color: #ef8a00; } .finding.s-low { border-left-color: #f3d34a; }
.statement { font-size: 1.05em; }
.clause { background: #f6f8fa; padding: .3rem .5rem; margin-top: .3rem; break-inside: avoid; page-break-inside: avoid; }
a { color: inherit; text-decoration: none; }
figure { margin: .4rem 0 .9rem; break-inside: avoid; page-break-inside: avoid; }
figure img { width: 100%; height: auto; }
figcaption { color: #444; font-size: .92em; }
ul { margin: .2rem 0 .6rem 1.1rem; padding: 0; }
li { margin: .1rem 0; }
@media print { footer { display: none; } }  /* the page margins carry it */
footer { margin-top: 1.5rem; color: #666; font-size: .9em; border-top: 1px solid #ccc; padding-top: .3rem; }
"""  # noqa: E501

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="tapaudit {{ r.tool_version }}">
<title>Test report: {{ head }}</title>
<style>{{ css }}</style>
</head>
<body>
<header>
<h1>Personal-data traffic test report<span class="zh">个人信息流量测试报告</span></h1>
<p class="sub">{{ d.name or d.mac }} · <span class="id">{{ d.mac }}</span> · {{ d.category }}
 · generated {{ r.generated_at }} by tapaudit {{ r.tool_version }}</p>
</header>

<section id="summary">
<h2>1. Summary verdict per requirement<span class="zh">各项要求结论</span></h2>
<p>{{ counts }}</p>
<table>
<thead><tr><th class="nw">Req.</th><th>Requirement</th><th>Verdict</th><th class="n">Findings</th><th>Basis</th></tr></thead>
<tbody>
{% for q in r.requirements %}<tr><td class="nw">{{ q.id }}</td><td>{{ q.title }}<br><span class="muted">{{ q.title_zh }}</span></td>
<td><span class="badge v-{{ q.verdict | replace(' ', '-') }}">{{ q.verdict }}</span><br><span class="muted">{{ q.verdict_zh }}</span></td>
<td class="n">{{ q.findings }}</td><td>{{ q.note | inline }}{% if q.rules %}<br><span class="muted">rules: {{ q.rules | join(', ') }}</span>{% endif %}</td></tr>
{% endfor %}</tbody></table>
</section>

<section id="device">
<h2>2. Device under test<span class="zh">被测设备</span></h2>
<table class="kv"><tbody>
<tr><th>MAC address</th><td class="id">{{ d.mac }}</td></tr>
<tr><th>Name</th><td>{{ d.name or '-' }}</td></tr>
<tr><th>Vendor</th><td>{{ d.vendor or '-' }}{% if d.oui_vendor and d.oui_vendor != d.vendor %} <span class="muted">(OUI: {{ d.oui_vendor }})</span>{% endif %}</td></tr>
<tr><th>Category</th><td>{{ d.category }}{% if not d.on_bench %} <span class="muted">(not on the bench file)</span>{% endif %}</td></tr>
<tr><th>Model / firmware</th><td>{{ d.model or '-' }} / {{ d.firmware or '-' }}</td></tr>
<tr><th>DHCP host name</th><td>{{ d.dhcp_hostname or '-' }}</td></tr>
<tr><th>DHCP vendor class / fingerprint</th><td>{{ d.dhcp_vendor_class or '-' }} / <span class="id">{{ d.dhcp_fingerprint or '-' }}</span></td></tr>
<tr><th>mDNS names</th><td>{{ d.mdns_names | join(', ') or '-' }}</td></tr>
<tr><th>SSDP names</th><td>{{ d.ssdp_names | join(', ') or '-' }}</td></tr>
<tr><th>Addresses</th><td class="id">{{ (d.ipv4 + d.ipv6) | join(', ') or '-' }}</td></tr>
<tr><th>Seen</th><td>{{ d.first_seen_ns | ts }} to {{ d.last_seen_ns | ts }} UTC, in {{ d.captures }} capture(s)</td></tr>
<tr><th>Traffic</th><td>{{ d.flows }} flows, {{ d.bytes_sent | bytes }} sent, {{ d.bytes_received | bytes }} received, {{ d.remotes }} remote addresses</td></tr>
</tbody></table>
</section>

<section id="scenario">
<h2>3. Test scenario and phases<span class="zh">测试场景与阶段</span></h2>
{% if not has_marks %}<p class="muted">No phases were marked for this capture (replay with <code>--phases</code>): everything counts as one unmarked period.</p>{% endif %}
<table class="dense">
<thead><tr><th>Phase</th><th>Start / end (UTC)</th><th class="n">Duration</th><th>Note</th><th class="n">Flows</th><th class="n">Sent</th><th class="n">PI values</th><th style="width: 30%">Data types sent</th></tr></thead>
<tbody>
{% for p in r.phases %}<tr><td>{{ p.phase }}{% if multi %}<br><span class="id muted">{{ p.capture_id[:12] }}</span>{% endif %}</td>
<td class="t">{{ p.start_ns | ts }}<br>{{ p.end_ns | ts }}</td><td class="n">{{ p.duration_s | secs }}</td><td>{{ p.note }}</td>
<td class="n">{{ p.flows }}</td><td class="n">{{ p.bytes_sent | bytes }}</td><td class="n">{{ p.observations }}</td><td class="dom">{{ p.data_types | join(', ') }}</td></tr>
{% endfor %}</tbody></table>
</section>

<section id="evidence">
<h2>4. Captures, tools and rules<span class="zh">采集文件、工具与规则</span></h2>
<h3>Capture files</h3>
<table>
<thead><tr><th>File</th><th>sha256</th><th class="n">Packets</th><th class="n">Bytes</th><th>First / last packet (UTC)</th><th>Link types</th><th>Truncated</th></tr></thead>
<tbody>
{% for c in r.captures %}{% for f in c.files %}<tr><td>{{ f.file }}</td><td class="id">{{ f.sha256 }}</td>
<td class="n">{{ c.packets if loop.first else '' }}</td><td class="n">{{ (c.bytes | bytes) if loop.first else '' }}</td>
<td>{% if loop.first %}{{ c.first_ns | ts }}<br>{{ c.last_ns | ts }}<br><span class="muted">{{ c.duration_s | secs }}</span>{% endif %}</td>
<td>{{ c.link_types | join(', ') if loop.first else '' }}</td><td>{% if loop.first %}{{ ('yes: ' ~ c.read_error) if c.truncated else 'no' }}{% endif %}</td></tr>
{% endfor %}{% if c.files | length > 1 %}<tr><td colspan="7" class="muted">capture id <span class="id">{{ c.capture_id }}</span> (sha256 of the files' sha256s)</td></tr>{% endif %}{% endfor %}
</tbody></table>
<h3>Tool, databases and rules</h3>
<table class="kv"><tbody>
<tr><th>tapaudit (this report)</th><td>{{ r.tool_version }}{% if pv.ingested_with and pv.ingested_with != [r.tool_version] %} <span class="muted">(captures ingested with {{ pv.ingested_with | join(', ') }})</span>{% endif %}</td></tr>
{% for a in pv.assessments %}<tr><th>Assessment {{ a.assessed_at }} UTC{% if multi %} <span class="id">{{ a.capture_id[:12] }}</span>{% endif %}</th><td>rules sha256 <span class="id">{{ a.rules_sha256 }}</span><br>declaration sha256 <span class="id">{{ a.declaration_sha256 or 'none given' }}</span></td></tr>
{% endfor %}<tr><th>IP-to-country / ASN database</th><td>{{ pv.geoip_db | join('; ') or '-' }}<br><span class="muted">version</span> {{ pv.geoip_version | join('; ') or '-' }}</td></tr>
<tr><th>Organisation catalogue</th><td>{{ pv.catalog_version | join(', ') or '-' }}</td></tr>
<tr><th>Public suffix list</th><td>{{ pv.psl_version | join(', ') or '-' }}</td></tr>
<tr><th>Bench file sha256</th><td class="id">{{ pv.bench_sha256 | join(', ') or '-' }}</td></tr>
<tr><th>Phases file sha256</th><td class="id">{{ pv.phases_sha256 | join(', ') or '-' }}</td></tr>
<tr><th>Values</th><td>{{ 'stored as sent at the user\\'s request (raw evidence); masked in this report' if pv.raw_evidence else 'masked before storage; this report shows masked excerpts only' }}</td></tr>
</tbody></table>
<h3>Rule packs<span class="zh">规则包</span></h3>
{% if pv.packs %}<table class="dense">
<thead><tr><th>Pack</th><th>Version</th><th>Title</th><th class="n">Rules</th><th style="width: 34%">File sha256</th></tr></thead>
<tbody>
{% for p in pv.packs %}<tr><td class="nw">{{ p.pack }}</td><td class="nw">{{ p.version }}</td><td>{{ p.title }}</td><td class="n">{{ p.rules }}</td><td class="id">{{ p.sha256 }}</td></tr>
{% endfor %}</tbody></table>
{% if not pv.packs_verified %}<p class="muted">The pack files have changed since the assessment (section 8).</p>{% endif %}
{% else %}<p class="muted">None: the captures have not been assessed.</p>{% endif %}
</section>

<section id="findings">
<h2>5. Findings<span class="zh">检测发现</span></h2>
{% if r.findings %}<table class="dense">
<thead><tr><th class="n">#</th><th>Severity</th><th>Rule</th><th>Req.</th><th>Statement</th><th>First (UTC)</th></tr></thead>
<tbody>
{% for f in r.findings %}<tr><td class="n"><a href="#f-{{ loop.index }}">{{ loop.index }}</a></td><td><span class="badge v-{{ f.severity }}">{{ f.severity }}</span></td>
<td class="nw">{{ f.rule_id }}</td><td class="nw">{{ f.requirements | join(', ') }}</td><td>{{ f.statement }}</td><td class="t">{{ f.first_ns | ts }}</td></tr>
{% endfor %}</tbody></table>{% endif %}
{% for f in r.findings %}<div class="finding s-{{ f.severity }}" id="f-{{ loop.index }}">
<h3>{{ loop.index }}. <span class="badge v-{{ f.severity }}">{{ f.severity }}</span> {{ f.rule_id }} {{ f.title }}{% if f.title_zh %} <span class="zh">{{ f.title_zh }}</span>{% endif %}</h3>
<p class="statement">{{ f.statement }}</p>
{% if f.statement_zh %}<p class="statement">{{ f.statement_zh }}</p>{% endif %}
{% if f.figures %}<p class="figures"><b>Figures:</b> {% for k, v in f.figures | dictsort if k != 'subject' %}{{ k | replace('_', ' ') }}: {{ v | figure }}{% if not loop.last %} · {% endif %}{% endfor %}</p>{% endif %}
<table class="kv dense"><tbody>
<tr><th>Evidence</th><td>{{ f.observations }} observations, from {{ f.first_ns | ts }} to {{ f.last_ns | ts }} UTC</td></tr>
<tr><th>Flows ({{ f.flow_ids | length }})</th><td class="id">{{ f.flow_ids[:40] | join(', ') }}{% if f.flow_ids | length > 40 %} … (+{{ f.flow_ids | length - 40 }}){% endif %}</td></tr>
<tr><th>Masked excerpts</th><td class="id">{{ f.excerpts | join(' · ') or '-' }}</td></tr>
<tr><th>Finding id</th><td class="id">{{ f.finding_id }}{% if multi %} (capture {{ f.capture_id[:12] }}){% endif %}</td></tr>
</tbody></table>
<div class="clause"><b>Clause:</b> rule {{ f.rule_id }} ({{ f.pack }} {{ f.pack_version }}) implements {{ f.requirements | join(', ') }}{% if f.clauses %}; cites {{ f.clauses | join('; ') }}{% endif %}.<br>
{{ f.explain }}{% if f.explain_zh %}<br>{{ f.explain_zh }}{% endif %}</div>
</div>
{% else %}<p>No findings{{ ' were raised by the rule packs that ran' if pv.assessments else ': the captures have not been assessed (section 8)' }}. 未发现问题。</p>
{% endfor %}
</section>

<section id="data">
<h2>6. Personal data observed<span class="zh">观察到的个人信息</span></h2>
{% if r.data_types %}<table>
<thead><tr><th>Data type</th><th class="n">Values /<br>messages</th><th class="n">Median /<br>min interval</th><th>Precision</th><th>Recipients</th><th>Phases</th><th>Found in (masked excerpt)</th></tr></thead>
<tbody>
{% for t in r.data_types %}<tr><td>{{ t.data_type }}</td><td class="n">{{ t.observations }} / {{ t.reports }}</td>
<td class="n">{{ t.median_interval_s | secs }}<br>{{ t.min_interval_s | secs }}</td>
<td>{% if t.max_decimals >= 0 %}{{ t.max_decimals }} decimals ({{ t.best_metres }} m){% else %}-{% endif %}</td>
<td>{{ t.organisations | join(', ') or '-' }}</td><td>{{ t.phases | join(', ') }}</td>
<td>{% for w in t.found_in %}{{ w.carrier }} <code>{{ w.path }}</code> ×{{ w.observations }}: <code>{{ w.excerpt }}</code> → {{ w.destinations | join(', ') }}{% if not loop.last %}<br>{% endif %}{% endfor %}</td></tr>
{% endfor %}</tbody></table>
{% else %}<p>No personal data was found in what the device sent in readable protocols.</p>{% endif %}
{{ chart('intervals') }}
{{ chart('timeline') }}
{% if r.measures %}<h3>Measures by recipient and phase<span class="zh">按接收方和阶段的度量</span></h3>
<table class="dense">
<thead><tr><th>Data type</th><th>Recipient</th><th>Phase</th><th class="n">Reports</th><th class="n">Per hour</th><th class="n">Median gap</th><th class="n">Min gap</th><th class="n">Longest run</th><th>Precision</th><th class="n">Encrypted / abroad / 3rd party</th></tr></thead>
<tbody>
{% for m in r.measures %}<tr><td>{{ m.data_type }}</td><td>{{ m.organisation or '-' }}</td><td>{{ m.phase }}</td><td class="n">{{ m.reports }}</td>
<td class="n">{{ '%g' | format(m.reports_per_hour) }}</td><td class="n">{{ m.median_interval_s | secs }}</td><td class="n">{{ m.min_interval_s | secs }}</td>
<td class="n">{{ m.longest_run_s | secs }}</td><td>{% if m.max_decimals >= 0 %}{{ m.max_decimals }} dp ({{ m.best_metres }} m){% else %}-{% endif %}</td>
<td class="n">{{ m.encrypted_share | pct }} / {{ m.cross_border_share | pct }} / {{ m.third_party_share | pct }}</td></tr>
{% endfor %}</tbody></table>{% endif %}
</section>

<section id="destinations">
<h2>7. Destinations<span class="zh">数据去向</span></h2>
{{ chart('destinations') }}
<table class="dense">
<thead><tr><th style="width: 26%">Destination</th><th>Organisation (kind)</th><th>Party</th><th>Country</th><th>Encryption</th><th class="n">Flows</th><th class="n">Sent / received</th><th>First / last (UTC)</th></tr></thead>
<tbody>
{% for x in r.destinations %}<tr><td class="dom">{{ x.destination }}</td><td>{{ x.organisation or (('AS: ' ~ x.as_org) if x.as_org else '-') }}{% if x.kind %} ({{ x.kind }}){% endif %}</td><td>{{ x.party }}</td>
<td>{{ x.countries | join(', ') or '-' }}{% if x.cross_border %} <b>abroad</b>{% endif %}</td><td>{{ x.security | join(', ') }}{% if x.readable %} (read){% endif %}</td>
<td class="n">{{ x.flows }}</td><td class="n">{{ x.bytes_up | bytes }}<br>{{ x.bytes_down | bytes }}</td><td class="t">{{ x.first_ns | ts }}<br>{{ x.last_ns | ts }}</td></tr>
{% else %}<tr><td colspan="8">The device sent nothing off the LAN.</td></tr>
{% endfor %}</tbody></table>
</section>

<section id="not-assessed">
<h2>8. What could not be assessed<span class="zh">无法评估的内容</span></h2>
{% if r.not_assessed %}<ul>
{% for i in r.not_assessed %}<li>{{ i.text | inline }}</li>
{% endfor %}</ul>{% else %}<p>Everything the packs look at could be measured.</p>{% endif %}
{% if r.unreadable %}<h3>Flows that could not be read<span class="zh">无法解读的流量</span></h3>
<table class="dense">
<thead><tr><th style="width: 26%">Destination</th><th>Organisation</th><th>Party</th><th>Country</th><th>Protection</th><th class="n">Flows</th><th class="n">Sent / received</th><th class="n">Period</th><th>First / last (UTC)</th></tr></thead>
<tbody>
{% for u in r.unreadable %}<tr><td class="dom">{{ u.destination }}</td><td>{{ u.organisation or '-' }}</td><td>{{ u.party }}</td><td>{{ u.countries | join(', ') or '-' }}</td>
<td>{{ u.security | join(', ') }}</td><td class="n">{{ u.flows }}</td><td class="n">{{ u.bytes_up | bytes }}<br>{{ u.bytes_down | bytes }}</td>
<td class="n">{{ (u.period_s | secs) if u.period_s else 'none' }}</td><td class="t">{{ u.first_ns | ts }}<br>{{ u.last_ns | ts }}</td></tr>
{% endfor %}</tbody></table>
<p class="muted">Period: the reporting period of the encrypted beats to that destination, from burst timing alone (<code>tapaudit periods</code>); "none" when the traffic is not periodic.</p>{% endif %}
{% if r.uploads %}<h3>Encrypted upload bursts<span class="zh">加密上传</span></h3>
<table>
<thead><tr><th>Start (UTC)</th><th>Destination</th><th>Phase</th><th class="n">Sent</th><th class="n">Duration</th><th>Probably</th><th>Why</th></tr></thead>
<tbody>
{% for u in r.uploads %}<tr><td class="t">{{ u.start_ns | ts }}</td><td class="dom">{{ u.destination }}</td><td>{{ u.phase }}</td><td class="n">{{ u.bytes_up | bytes }}</td>
<td class="n">{{ u.seconds | secs }}</td><td>{{ u.kind }} ({{ u.confidence }})</td><td>{{ u.reason }}</td></tr>
{% endfor %}</tbody></table>{% endif %}
</section>

<section id="method">
<h2>9. Method<span class="zh">方法说明</span></h2>
<p>The captures were replayed by tapaudit {{ pv.ingested_with | join(', ') or r.tool_version }}: packets into flows, flows decoded
(DNS, TLS, QUIC, HTTP, MQTT, CoAP, RTSP...), destinations named from the organisation catalogue and the IP
databases above, and what the device sent in readable protocols scanned for personal data. Values are kept
as keyed hashes and masked excerpts. Intervals are the times between messages carrying the same data type to the
same organisation. The rule packs judge those measures per device; their files' hashes identify exactly the
rules that ran. Times are UTC.</p>
</section>
<footer>tapaudit {{ r.tool_version }} · report schema {{ r.schema }} · device {{ d.mac }} · generated {{ r.generated_at }}</footer>
</body>
</html>
"""  # noqa: E501


def _inline(text: str) -> Markup:
    """Prose whose `backquoted` parts are commands or names: those as <code>, all of it escaped."""
    parts = str(text).split("`")
    return Markup("").join(Markup("<code>%s</code>") % p if i % 2 else escape(p) for i, p in enumerate(parts))


def _env() -> jinja2.Environment:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)
    env.filters.update(
        ts=lambda ns: fmt_ts(int(ns)) if ns else "-",
        secs=lambda s: fmt_secs(float(s)),
        bytes=lambda n: fmt_bytes(int(n)),
        pct=lambda x: f"{float(x):.0%}",
        figure=figure_text,
        inline=_inline,
    )
    return env


def chart_src(chart: charts.Chart) -> str:
    """The chart as an SVG data URI: self-contained, and each chart's ids kept to itself."""
    return "data:image/svg+xml;base64," + base64.b64encode(charts.render(chart, "svg")).decode()


def render_html(data: ReportData) -> str:
    env = _env()
    d = data.device
    head = f"{d['name']} ({d['mac']})" if d["name"] else str(d["mac"])

    def chart(chart_id: str) -> Any:
        c = data.chart(chart_id)
        if c.empty:
            body = f'<p class="muted">{escape(c.title)}: {escape(c.note)}</p>'
        else:
            alt = escape(f"{c.title}. {c.x_label}; {c.y_label}.")
            body = (
                f'<figure id="chart-{c.id}"><img src="{chart_src(c)}" alt="{alt}">'
                f"<figcaption>{escape(c.note)}</figcaption></figure>"
            )
        return Markup(body)

    sev = [f["severity"] for f in data.findings]
    counts = ", ".join(f"{sev.count(s)} {s}" for s in SEVERITIES if s in sev)
    verdicts = [q["verdict"] for q in data.requirements]
    summary = (
        plural(len(sev), "finding")
        + (f" ({counts})" if counts else "")
        + f"; {verdicts.count('pass')} requirements passed, "
        f"{sum(v not in ('pass', 'not assessed') for v in verdicts)} with findings, "
        f"{verdicts.count('not assessed')} not assessed."
    )
    safe_head = "".join(ch for ch in head if ch not in '"\\<>')  # inside a CSS string in <style>
    css = (
        jinja2.Environment(autoescape=False)
        .from_string(CSS)
        .render(r=data, head=safe_head, fonts=css_families())
    )
    return env.from_string(TEMPLATE).render(
        r=data,
        d=d,
        pv=data.provenance,
        head=head,
        css=Markup(css),
        counts=summary,
        chart=chart,
        multi=len(data.captures) > 1,
        has_marks=any(p["start_ns"] for p in data.phases),
    )
