"""The lab's own input files: the bench file (devices, persona, LAN) and the test phases."""
