"""Decryption of captured TLS with the session secrets a lab holds (issue 16): key material in
(``keys``), the TLS record layer out, plaintext handed to the same readers as clear payload."""
