"""Zeek's logs read as records: pure code, no store (issue 21).

``logfile`` reads one log (TSV with ``#fields``/``#types`` headers, ``zeek-cut -m`` output, or
JSON lines; gzip or plain), ``inputs`` finds the logs of a file, folder (one per sensor) or glob by
their content, and ``records`` turns their rows into typed connection, DNS, TLS, HTTP, DHCP and
other records keyed by Zeek's connection ``uid``.
"""
