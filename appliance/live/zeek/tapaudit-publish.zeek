##! tapaudit-publish.zeek, version 1: publishes Zeek's connection, DNS, TLS, HTTP and DHCP
##! summaries for ``tapaudit zeek --connect ws://HOST:PORT`` (issue 21).
##!
##! Each row Zeek writes to conn.log, dns.log, ssl.log, http.log or dhcp.log is also published as
##! the event ``TapAudit::log_row(version, path, row)`` on the topic ``tapaudit/v1/<path>``, the
##! row as Zeek's own JSON (``to_json``: the same fields as the log, records nested), so the client
##! reads it as it reads a JSON log, and reordered or added fields do not break it (Broker's JSON
##! sends records as vectors, by position). The WebSocket API (Zeek 5.0+, ``Cluster::listen_websocket``
##! since 8.0) serves the topic to tapaudit.
##!
##! Load it beside your site's scripts: ``zeek -i eth0 local tapaudit-publish.zeek``, or in
##! ``local.zeek``: ``@load /path/to/tapaudit-publish.zeek``. ``redef TapAudit::listen_port = 0/tcp;``
##! leaves the WebSocket listener to the cluster's own configuration (zeekctl's UseWebSocket).

@load base/protocols/conn
@load base/protocols/dns
@load base/protocols/ssl
@load base/protocols/http
@load base/protocols/dhcp

module TapAudit;

export {
	## The script's version; tapaudit checks it in every event.
	const version = "1" &redef;

	## Topic prefix the rows are published under (``tapaudit/v1/conn`` ...).
	const topic_prefix = "tapaudit/v1" &redef;

	## Where the WebSocket API listens; 0/tcp: not here.
	const listen_addr = 127.0.0.1 &redef;
	const listen_port = 27759/tcp &redef;

	## One log row: the script's version, the log's name and the row as Zeek's JSON.
	global log_row: event(version: string, path: string, row: string);
}

function publish_row(path: string, row: string)
	{
	Cluster::publish(topic_prefix + "/" + path, log_row, version, path, row);
	}

event Conn::log_conn(rec: Conn::Info)
	{
	publish_row("conn", to_json(rec));
	}

event DNS::log_dns(rec: DNS::Info)
	{
	publish_row("dns", to_json(rec));
	}

event SSL::log_ssl(rec: SSL::Info)
	{
	publish_row("ssl", to_json(rec));
	}

event HTTP::log_http(rec: HTTP::Info)
	{
	publish_row("http", to_json(rec));
	}

event DHCP::log_dhcp(rec: DHCP::Info)
	{
	publish_row("dhcp", to_json(rec));
	}

event zeek_init()
	{
	if ( listen_port != 0/tcp )
		Cluster::listen_websocket([$listen_addr=listen_addr, $listen_port=listen_port]);
	}
