"""Reports that gather from several records at once: the overview page (`overview.py`)."""
