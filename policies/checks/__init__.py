"""The checks rules name: each turns one device's facts into findings with the measured figures.

A check reads a rule's ``params`` (thresholds, with the spec's defaults when a pack leaves them
out) and ``phases``; it never changes the facts. ``CHECKS`` is the explicit registry the packs
refer to by name. The checks live in modules by what they judge:

- ``collection``: consent (TR-01), necessity (TR-02, ``necessity.yaml``), contacts
  (TR-09), declared and telemetry data types (TR-16);
- ``measures``: frequency while idle and against the declared interval (TR-03), precise
  location (TR-04);
- ``home``: locations within the bench radius of the tester's home (TR-04, whereabouts);
- ``sensors``: background uploads (TR-05), audio without activation (TR-06), face data
  (TR-07) and other biometrics (TR-08) off the device, withdrawal (TR-15), sensors (TR-17);
- ``sharing``: identifiers to third parties (TR-10), clear text (TR-11), abroad (TR-12);
- ``recipients``: undeclared third parties (TR-13), children (TR-14);
- ``interception``: the device accepted the lab interceptor's forged certificates or old TLS (TR-11).

``common`` holds what they share (the finding builder, params, precision, consent);
``policies.wording`` how findings word the figures in English and Chinese.

A check that needs the product's declaration (undeclared types, intervals, consent moments)
says nothing without one; one whose violation does not depend on it (clear text, face data off
the device with no consent record) speaks either way.
"""

from __future__ import annotations

from policies.checks import collection, home, interception, measures, recipients, sensors, sharing
from policies.checks.common import Check, _finding

__all__ = ["CHECKS", "Check", "_finding"]

CHECKS: dict[str, Check] = {
    "sensitive_before_consent": collection.sensitive_before_consent,  # TR-01
    "unnecessary_types": collection.unnecessary_types,  # TR-02
    "frequency": measures.frequency,  # TR-03
    "declared_interval": measures.declared_interval,  # TR-03
    "precise_location": measures.precise_location,  # TR-04
    "home_location": home.home_location,  # TR-04 (whereabouts)
    "background_upload": sensors.background_upload,  # TR-05
    "audio_without_activation": sensors.audio_without_activation,  # TR-06
    "face_off_device": sensors.face_off_device,  # TR-07
    "biometric": sensors.biometric,  # TR-08
    "contacts": collection.contacts,  # TR-09
    "identifiers_to_third_party": sharing.identifiers_to_third_party,  # TR-10
    "cleartext": sharing.cleartext,  # TR-11
    "tls_test_accepted": interception.tls_test_accepted,  # TR-11 (the interceptor's tests)
    "cross_border": sharing.cross_border,  # TR-12
    "undeclared_third_party": recipients.undeclared_third_party,  # TR-13
    "minors": recipients.minors,  # TR-14
    "after_withdrawal": sensors.after_withdrawal,  # TR-15
    "undeclared_types": collection.undeclared_types,  # TR-16
    "telemetry_pi": collection.telemetry_pi,  # TR-16 (ETSI 6-4)
    "undocumented_sensor": sensors.undocumented_sensor,  # TR-17
}
