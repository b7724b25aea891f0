"""Rebound's classifier: evidence in, verdict out. Knows nothing of HTTP or Redis."""
from classifier.engine import Classifier
from classifier.events import Event, Evidence, Kind
from classifier.verdict import Verdict

__all__ = ["Classifier", "Event", "Evidence", "Kind", "Verdict"]
