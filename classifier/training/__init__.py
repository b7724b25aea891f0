"""The project's own training corpus: phrase templates, the generator, and the loader."""
