"""Protocol dissectors: bytes of one message or stream in, plain records out; no flow state.

``registry.PROTOCOLS`` lists the ones the flow meter runs, with the ports and first bytes
that name each and the per-flow reader (``parsers.streams``, ``parsers.datagrams``) that feeds it.
"""
