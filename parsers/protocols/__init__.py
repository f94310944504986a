"""Protocol dissectors: bytes of one message or stream in, plain records out; no flow state."""
