"""Display of searches and results: text, HTML, widgets, plots. No computation here."""
