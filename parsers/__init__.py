"""Bytes to records: capture formats, packet and flow decoding, protocol dissectors.

Pure code: no database, no global mutable state. Everything here can be fed
bytes in a test and returns plain Python values.
"""
