"""From a source's packets to stored rows: the pipeline, the row builders, enrichment, inventory, replay."""
