"""Offline reference data: the public suffix list, the OUI registry, GeoIP."""
