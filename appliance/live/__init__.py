"""The live tap: a libpcap source, the rotating evidence ring, the control socket, the session loop."""
