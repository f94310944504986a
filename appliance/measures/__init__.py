"""Traffic-shape measures computed from stored rows: reporting periods, upload kinds."""
