"""How well the classifier does on real, labelled mail it may never have seen (issue 12).

- :mod:`.sets`: the labelled sets (``../shared/corpus``, the analysts' labels of
  ``../shared/corpora`` and of ZoneMTA's quoted replies), each entry with its MTA family;
- :mod:`.harm`: which answers suppress a recipient, to count the user's two costly errors;
- :mod:`.scoring`: accuracy, recipients and harm per set and per family;
- :mod:`.verdicts`: the verdicts of the rules, the model and both combined for every entry;
- :mod:`.holdout`: leave-one-family-out, a model trained without a family scored on it;
- :mod:`.report`: the figures as text.

``rebound evaluate --sets`` and ``--leave-one-out`` drive it (classifier/model/cli.py).
"""
