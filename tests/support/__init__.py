"""Helpers the tests share: capture writers, servers, the lab network, tshark and Zeek readers."""
