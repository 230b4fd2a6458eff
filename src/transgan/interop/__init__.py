"""The authors' checkpoint files: their key layout, import and export."""
